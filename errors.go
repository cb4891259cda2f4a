package spool

import (
	"errors"

	"github.com/spooldb/spool/internal/store"
)

// The errors of the file and its commits. Errors returned by this package
// wrap one of these with details (the topic, the partition, the limit); test
// for them with errors.Is.

// ErrClosed is returned by every method of a closed DB.
var ErrClosed = store.ErrClosed

// ErrFailed is returned once a write or sync of the file failed: the
// operating system may have dropped what it could not write, so nothing since
// the last good sync is trusted. Close and reopen the DB; recovery restores
// every acknowledged commit.
var ErrFailed = store.ErrFailed

// ErrReadOnly is returned for a write to a DB opened read-only.
var ErrReadOnly = store.ErrReadOnly

// ErrCorrupt is returned when the file fails its checksums beyond what
// recovery may repair.
var ErrCorrupt = store.ErrCorrupt

// ErrUnknownTopic is returned for a topic the file does not have.
var ErrUnknownTopic = store.ErrUnknownTopic

// ErrUnknownPartition is returned for a partition number the topic does not
// have.
var ErrUnknownPartition = store.ErrUnknownPartition

// ErrTopicExists is returned when creating a topic whose name is taken.
var ErrTopicExists = store.ErrTopicExists

// ErrInvalidTopic is returned for a topic name Kafka would not accept or a
// partition count out of range.
var ErrInvalidTopic = store.ErrInvalidTopic

// ErrInvalidConfig is returned for an unknown configuration name or a value
// out of range.
var ErrInvalidConfig = store.ErrInvalidConfig

// ErrInvalidGroup is returned for an empty or oversized group id.
var ErrInvalidGroup = store.ErrInvalidGroup

// ErrOffsetOutOfRange is returned for an offset before the log start offset
// or past the high watermark.
var ErrOffsetOutOfRange = store.ErrOffsetOutOfRange

// ErrRecordTooLarge is returned for a record that cannot fit in a batch of
// the topic's max.message.bytes.
var ErrRecordTooLarge = store.ErrRecordTooLarge

// ErrTxnTooLarge is returned for a commit too large for one journal record:
// too many partitions or offsets at once.
var ErrTxnTooLarge = store.ErrTxnTooLarge

// ErrProducerClosed is returned for records produced after the producer's
// Close began, and for records still buffered when Close gave up on them.
var ErrProducerClosed = errors.New("spool: producer is closed")

// ErrConsumerClosed is returned by the methods of a closed consumer.
var ErrConsumerClosed = errors.New("spool: consumer is closed")

// ErrNotAssigned is returned for a partition the consumer was not assigned.
var ErrNotAssigned = errors.New("spool: partition not assigned to this consumer")

// ErrNoGroup is returned for committing offsets with a consumer that has no
// group.
var ErrNoGroup = errors.New("spool: consumer has no group to commit for")

// ErrOutOfOrderSequence is returned for a batch of an idempotent producer
// whose sequence number does not follow the last one the partition holds
// from it: a batch before it is missing. Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER.
var ErrOutOfOrderSequence = store.ErrOutOfOrderSequence

// ErrProducerFenced is returned for a batch of an idempotent producer whose
// epoch is older than one the partition has seen: a newer instance of the
// producer took over.
var ErrProducerFenced = store.ErrProducerFenced

// ErrUnknownMember is returned for a commit of a group member that its group
// removed: it left, its process died, or it missed its session timeout.
var ErrUnknownMember = store.ErrUnknownMember

// ErrNotOwner is returned for a commit of a group member for a partition
// the group gave to another member.
var ErrNotOwner = store.ErrNotOwner

// ErrGroupNotEmpty is returned for deleting a group, or committing offsets
// for it from outside (a consumer that did not Subscribe), while it has live
// members.
var ErrGroupNotEmpty = store.ErrGroupNotEmpty

// ErrTooManyMembers is returned when a file has as many group members as it
// has member slots.
var ErrTooManyMembers = store.ErrTooManyMembers

// ErrInconsistentAssignor is returned when a member joins a group whose
// members use another assignor.
var ErrInconsistentAssignor = store.ErrInconsistentAssignor
