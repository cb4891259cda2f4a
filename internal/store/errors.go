package store

import "errors"

// ErrClosed is returned by every method of a closed Store.
var ErrClosed = errors.New("spool: file is closed")

// ErrFailed is returned once a write or sync of the file has failed: the
// operating system may have dropped the data it could not write, so nothing
// written since the last good sync can be trusted. Close and reopen the file;
// recovery restores the last durable commit.
var ErrFailed = errors.New("spool: an earlier write or sync failed; reopen the file")

// ErrReadOnly is returned for a write to a Store opened read-only.
var ErrReadOnly = errors.New("spool: file is open read-only")

// ErrUnknownTopic is returned for a topic the file does not have.
var ErrUnknownTopic = errors.New("spool: unknown topic")

// ErrUnknownPartition is returned for a partition number the topic does not have.
var ErrUnknownPartition = errors.New("spool: unknown partition")

// ErrTopicExists is returned when creating a topic whose name is taken.
var ErrTopicExists = errors.New("spool: topic already exists")

// ErrInvalidTopic is returned for a topic name Kafka would not accept, or an
// invalid partition count.
var ErrInvalidTopic = errors.New("spool: invalid topic")

// ErrInvalidConfig is returned for an unknown topic configuration name or a
// value out of range.
var ErrInvalidConfig = errors.New("spool: invalid topic configuration")

// ErrOffsetOutOfRange is returned for a read before the log start offset or
// past the high watermark.
var ErrOffsetOutOfRange = errors.New("spool: offset out of range")

// ErrRecordTooLarge is returned for a batch larger than the topic's
// max.message.bytes.
var ErrRecordTooLarge = errors.New("spool: record batch too large")

// ErrInvalidBatch is returned for bytes that are not a valid Kafka RecordBatch
// v2: wrong magic, bad checksum, or inconsistent lengths.
var ErrInvalidBatch = errors.New("spool: invalid record batch")

// ErrTxnTooLarge is returned for a commit whose journal record would not fit in
// one journal extent: too many partitions or offsets in one atomic commit.
var ErrTxnTooLarge = errors.New("spool: commit too large for one journal record")

// ErrCorrupt is returned when opening or reading a file whose contents fail
// their checksums beyond what recovery may repair.
var ErrCorrupt = errors.New("spool: file is corrupt")

// ErrInvalidGroup is returned for an empty or oversized consumer group id.
var ErrInvalidGroup = errors.New("spool: invalid group id")

// ErrOutOfOrderSequence is returned for a commit holding a batch of an
// idempotent producer whose sequence does not follow the last batch the
// partition holds from that producer and epoch (or, in a new epoch, does not
// start at 0), and is not a retry of one of its last five batches: a batch
// before it is missing. Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER. Nothing of the
// commit was written.
var ErrOutOfOrderSequence = errors.New("spool: out of order sequence number")

// ErrProducerFenced is returned for a commit holding a batch of an idempotent
// producer whose epoch is older than the epoch the partition last saw from
// that producer id: a newer instance of the producer has taken over. Kafka's
// INVALID_PRODUCER_EPOCH (PRODUCER_FENCED before Kafka 2.7). Nothing of the
// commit was written.
var ErrProducerFenced = errors.New("spool: producer fenced by a newer epoch")

// ErrUnknownMember is returned for a group change or an offset commit made
// on behalf of a member the group does not have: it left, or was removed
// (its process died, it missed its session timeout). Kafka's
// UNKNOWN_MEMBER_ID. Nothing of the commit was written.
var ErrUnknownMember = errors.New("spool: unknown group member")

// ErrNotOwner is returned for an offset commit a member makes for a
// partition it does not own: the partition was handed to another member.
// Nothing of the commit was written.
var ErrNotOwner = errors.New("spool: member does not own the partition")

// ErrGroupNotEmpty is returned for a change that needs a group without live
// members (deleting it, committing offsets for it from outside, resetting
// them) while it has some. Kafka's NON_EMPTY_GROUP.
var ErrGroupNotEmpty = errors.New("spool: group has live members")

// ErrTooManyMembers is returned when every member slot of the file is taken.
var ErrTooManyMembers = errors.New("spool: no free member slot")

// ErrInconsistentAssignor is returned when a member joins a group with an
// assignor other than the one its members use. Kafka's
// INCONSISTENT_GROUP_PROTOCOL.
var ErrInconsistentAssignor = errors.New("spool: member's assignor differs from the group's")
