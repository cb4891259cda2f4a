package store

import (
	"fmt"
	"slices"

	"github.com/spooldb/spool/internal/format"
)

// state is everything the journal describes, rebuilt by applying its
// operations in order. apply is the only code that changes it, for the
// writer's own commits, for a replay at open and for commits that other
// processes wrote, so all three agree by construction.
type state struct {
	extentSize uint32
	extents    []extent // indexed by extent number; len is the extent count
	free       []uint32 // free extents, ascending; allocate takes the lowest
	pending    []pendingFree

	nextTopicID    uint32
	nextGeneration uint64
	nextProducerID int64 // the next id InitProducer hands out

	topics  map[uint32]*topic
	byName  map[string]*topic
	groups  map[string]*group
	slots   map[uint32]*member // the members of every group, by slot
	journal []uint32           // journal extents since the last checkpoint, in chain order
	ckpt    []uint32           // extents of the last checkpoint

	lsn uint64 // last record applied
}

// extent is what the state knows of one extent.
type extent struct {
	kind       format.ExtentKind
	generation uint64
}

// pendingFree is an extent freed by record lsn, which may not be reused until
// that record is durable: until then a crash could bring back the state that
// still uses it.
type pendingFree struct {
	extent uint32
	lsn    uint64
}

type topic struct {
	id         uint32
	name       string
	entries    []format.ConfigEntry // as set; config is the effective value
	config     TopicConfig
	created    int64
	partitions []*partition
}

type partition struct {
	topic    *topic
	index    uint32
	segments []segment
	logStart int64
	next     int64 // log end offset: the offset the next record gets
	// hwm is the high watermark: the log end offset as last published,
	// the end of what readers may see.
	hwm int64
	// producers is the state of the idempotent producers that appended
	// here, by producer id; nil until the first. It outlives the records
	// (retention, DeleteRecords), as in Kafka, until the producer expires.
	producers map[int64]*producerState
}

// publish makes everything applied to p visible to readers.
func (p *partition) publish() {
	p.hwm = p.next
	for i := len(p.segments) - 1; i >= 0 && p.segments[i].visible != p.segments[i].size; i-- {
		p.segments[i].visible = p.segments[i].size
	}
}

// segment is the part of a partition's log in one extent.
type segment struct {
	extent       uint32
	generation   uint64
	base         int64 // first offset in the extent
	next         int64 // offset after the last batch
	size         uint32
	visible      uint32 // size as last published
	maxTimestamp int64
	index        []indexEntry // ascending; the first is at position 0
}

// indexEntry says the batch holding offset starts at pos in the payload.
type indexEntry struct {
	offset int64
	pos    uint32
}

// group is a consumer group: its committed offsets and, while it has
// members, its membership (see group_state.go).
type group struct {
	offsets map[partitionKey]committed
	members map[string]*member // by member id
	// assignor and generation are those of the last GroupAssign.
	assignor   string
	generation int32
	target     map[partitionKey]string // the member the generation gives each partition
	owners     map[partitionKey]owner
	joins      uint64 // members ever joined, for their order
	// version is the LSN of the last change of membership, target or owners.
	version uint64
}

type partitionKey struct {
	topic     uint32
	partition uint32
}

type committed struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	time        int64
	acked       []format.OffsetRange // acknowledged above offset
}

func newState(extentSize uint32) *state {
	return &state{
		extentSize:     extentSize,
		nextGeneration: 1,
		topics:         map[uint32]*topic{},
		byName:         map[string]*topic{},
		groups:         map[string]*group{},
		slots:          map[uint32]*member{},
	}
}

func (s *state) payloadSize() uint32 { return s.extentSize - format.ExtentHeaderSize }

func (s *state) partition(topicID, index uint32) (*partition, error) {
	t := s.topics[topicID]
	if t == nil {
		return nil, fmt.Errorf("%w: id %d", ErrUnknownTopic, topicID)
	}
	if index >= uint32(len(t.partitions)) {
		return nil, fmt.Errorf("%w: %s has %d partitions, not %d", ErrUnknownPartition, t.name, len(t.partitions), index)
	}
	return t.partitions[index], nil
}

// use marks extent e as in use with kind and generation, growing the extent
// count when e lies past it.
func (s *state) use(e uint32, kind format.ExtentKind, generation uint64) error {
	if e == format.NoExtent {
		return fmt.Errorf("extent number %d is reserved", e)
	}
	for uint32(len(s.extents)) <= e {
		s.free = append(s.free, uint32(len(s.extents)))
		s.extents = append(s.extents, extent{})
	}
	if s.extents[e].kind != format.KindFree {
		return fmt.Errorf("extent %d allocated as %s while in use as %s", e, kind, s.extents[e].kind)
	}
	i, found := slices.BinarySearch(s.free, e)
	if found {
		s.free = slices.Delete(s.free, i, i+1)
	} else if i := slices.IndexFunc(s.pending, func(p pendingFree) bool { return p.extent == e }); i >= 0 {
		s.pending = slices.Delete(s.pending, i, i+1)
	}
	s.extents[e] = extent{kind: kind, generation: generation}
	if generation >= s.nextGeneration {
		s.nextGeneration = generation + 1
	}
	return nil
}

// release frees extent e as of record lsn.
func (s *state) release(e uint32, lsn uint64) error {
	if e >= uint32(len(s.extents)) || s.extents[e].kind == format.KindFree {
		return fmt.Errorf("extent %d freed while not in use", e)
	}
	s.extents[e] = extent{}
	s.pending = append(s.pending, pendingFree{extent: e, lsn: lsn})
	return nil
}

// settle makes the extents freed by records up to synced allocatable.
func (s *state) settle(synced uint64) {
	kept := s.pending[:0]
	for _, p := range s.pending {
		if p.lsn <= synced {
			i, _ := slices.BinarySearch(s.free, p.extent)
			s.free = slices.Insert(s.free, i, p.extent)
		} else {
			kept = append(kept, p)
		}
	}
	s.pending = kept
}

// apply applies one operation of record lsn.
func (s *state) apply(op format.Op, lsn uint64) error {
	switch o := op.(type) {
	case format.TopicCreate:
		return s.applyTopicCreate(o)
	case format.TopicConfig:
		t := s.topics[o.ID]
		if t == nil {
			return fmt.Errorf("config for unknown topic id %d", o.ID)
		}
		cfg, err := ParseTopicConfig(o.Config, s.extentSize)
		if err != nil {
			return err
		}
		t.entries, t.config = o.Config, cfg
	case format.TopicDelete:
		t := s.topics[o.ID]
		if t == nil {
			return fmt.Errorf("delete of unknown topic id %d", o.ID)
		}
		for _, p := range t.partitions {
			if len(p.segments) != 0 {
				return fmt.Errorf("topic %s deleted while partition %d holds extents", t.name, p.index)
			}
		}
		delete(s.topics, o.ID)
		delete(s.byName, t.name)
		for _, g := range s.groups {
			g.dropTopic(o.ID, lsn)
		}
	case format.ExtentAlloc:
		p, err := s.partition(o.Topic, o.Partition)
		if err != nil {
			return err
		}
		if o.BaseOffset != p.next {
			return fmt.Errorf("extent %d for %s/%d starts at offset %d, log ends at %d", o.Extent, p.topic.name, p.index, o.BaseOffset, p.next)
		}
		if err := s.use(o.Extent, format.KindData, o.Generation); err != nil {
			return err
		}
		p.segments = append(p.segments, segment{extent: o.Extent, generation: o.Generation, base: o.BaseOffset,
			next: o.BaseOffset, maxTimestamp: -1, index: []indexEntry{{offset: o.BaseOffset}}})
	case format.ExtentFree:
		return s.applyExtentFree(o.Extent, lsn)
	case format.Continue:
		return s.applyContinue(o)
	case format.Append:
		return s.applyAppend(o)
	case format.AppendData:
		return s.applyAppend(o.Append)
	case format.LogStart:
		p, err := s.partition(o.Topic, o.Partition)
		if err != nil {
			return err
		}
		// A partition without extents is empty at any log start, and its log
		// end moves with it: that is how a checkpoint restores a partition
		// whose every record has expired.
		if len(p.segments) == 0 && o.Offset >= p.next {
			p.next = o.Offset
		}
		if o.Offset < p.logStart || o.Offset > p.next {
			return fmt.Errorf("log start of %s/%d moved to %d outside [%d, %d]", p.topic.name, p.index, o.Offset, p.logStart, p.next)
		}
		p.logStart = o.Offset
	case format.OffsetCommit:
		if _, err := s.partition(o.Topic, o.Partition); err != nil {
			return err
		}
		s.group(o.Group).offsets[partitionKey{o.Topic, o.Partition}] = committed{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, time: o.Time}
	case format.OffsetAcks:
		return s.applyOffsetAcks(o)
	case format.GroupDelete:
		if g := s.groups[o.Group]; g != nil && len(g.members) != 0 {
			return fmt.Errorf("group %s deleted with %d members", o.Group, len(g.members))
		}
		delete(s.groups, o.Group)
	case format.MemberJoin:
		return s.applyMemberJoin(o, lsn)
	case format.MemberLeave:
		return s.applyMemberLeave(o, lsn)
	case format.GroupAssign:
		return s.applyGroupAssign(o, lsn)
	case format.PartitionOwner:
		return s.applyPartitionOwner(o, lsn)
	case format.Checkpoint:
		return s.applyCheckpoint(o, lsn)
	case format.ProducerInit:
		return s.applyProducerInit(o)
	case format.ProducerBatch:
		return s.applyProducerBatch(o)
	case format.ProducerExpire:
		s.expireProducers(o.Until)
	case format.Counters:
		for uint32(len(s.extents)) < o.ExtentCount {
			s.free = append(s.free, uint32(len(s.extents)))
			s.extents = append(s.extents, extent{})
		}
		s.nextTopicID = max(s.nextTopicID, o.NextTopicID)
		s.nextGeneration = max(s.nextGeneration, o.NextGeneration)
	default:
		return fmt.Errorf("operation %T is not applied to state", op)
	}
	return nil
}

func (s *state) applyTopicCreate(o format.TopicCreate) error {
	if s.topics[o.ID] != nil || s.byName[o.Name] != nil {
		return fmt.Errorf("topic %s (id %d) created twice", o.Name, o.ID)
	}
	if o.Partitions == 0 || o.Partitions > MaxPartitions {
		return fmt.Errorf("topic %s created with %d partitions", o.Name, o.Partitions)
	}
	cfg, err := ParseTopicConfig(o.Config, s.extentSize)
	if err != nil {
		return err
	}
	t := &topic{id: o.ID, name: o.Name, entries: o.Config, config: cfg, created: o.Created}
	for i := range o.Partitions {
		t.partitions = append(t.partitions, &partition{topic: t, index: i})
	}
	s.topics[o.ID] = t
	s.byName[o.Name] = t
	s.nextTopicID = max(s.nextTopicID, o.ID+1)
	return nil
}

func (s *state) applyExtentFree(e uint32, lsn uint64) error {
	if e >= uint32(len(s.extents)) {
		return fmt.Errorf("free of extent %d past the end", e)
	}
	switch s.extents[e].kind {
	case format.KindData:
		if err := s.detach(e); err != nil {
			return err
		}
	case format.KindJournal, format.KindCheckpoint:
		return fmt.Errorf("extent %d is a %s extent; only checkpoints free those", e, s.extents[e].kind)
	}
	return s.release(e, lsn)
}

// detach removes the segment in data extent e from its partition.
func (s *state) detach(e uint32) error {
	for _, t := range s.topics {
		for _, p := range t.partitions {
			if i := slices.IndexFunc(p.segments, func(sg segment) bool { return sg.extent == e }); i >= 0 {
				if p.segments[i].next > p.logStart && p.segments[i].size > 0 {
					return fmt.Errorf("extent %d of %s/%d freed while it holds offsets from the log start %d", e, t.name, p.index, p.logStart)
				}
				p.segments = slices.Delete(p.segments, i, i+1)
				return nil
			}
		}
	}
	return fmt.Errorf("data extent %d has no partition", e)
}

func (s *state) applyContinue(o format.Continue) error {
	if err := s.use(o.Extent, format.KindJournal, o.Generation); err != nil {
		return err
	}
	s.journal = append(s.journal, o.Extent)
	return nil
}

func (s *state) applyAppend(o format.Append) error {
	p, err := s.partition(o.Topic, o.Partition)
	if err != nil {
		return err
	}
	if len(p.segments) == 0 {
		return fmt.Errorf("append to %s/%d, which has no extent", p.topic.name, p.index)
	}
	sg := &p.segments[len(p.segments)-1]
	switch {
	case sg.extent != o.Extent:
		return fmt.Errorf("append to extent %d of %s/%d, whose last extent is %d", o.Extent, p.topic.name, p.index, sg.extent)
	case o.Start != sg.size || o.End < o.Start || o.End > s.payloadSize():
		return fmt.Errorf("append of bytes [%d, %d) to %s/%d, whose extent holds %d", o.Start, o.End, p.topic.name, p.index, sg.size)
	case o.FirstOffset != p.next || o.NextOffset <= o.FirstOffset:
		return fmt.Errorf("append of offsets [%d, %d) to %s/%d, whose log ends at %d", o.FirstOffset, o.NextOffset, p.topic.name, p.index, p.next)
	}
	if o.Start > 0 {
		sg.index = append(sg.index, indexEntry{offset: o.FirstOffset, pos: o.Start})
	}
	sg.size = o.End
	sg.next = o.NextOffset
	sg.maxTimestamp = max(sg.maxTimestamp, o.MaxTimestamp)
	p.next = o.NextOffset
	return nil
}

// applyCheckpoint frees the journal extents before the one the checkpoint
// continues in, and the extents of the checkpoint before it.
func (s *state) applyCheckpoint(o format.Checkpoint, lsn uint64) error {
	i := slices.Index(s.journal, o.JournalExtent)
	if i < 0 {
		return fmt.Errorf("checkpoint continues in extent %d, not in the journal %v", o.JournalExtent, s.journal)
	}
	for _, e := range s.journal[:i] {
		if err := s.release(e, lsn); err != nil {
			return err
		}
	}
	s.journal = slices.Clone(s.journal[i:])
	for _, e := range s.ckpt {
		if !slices.Contains(o.Extents, e) {
			if err := s.release(e, lsn); err != nil {
				return err
			}
		}
	}
	for _, e := range o.Extents {
		if !slices.Contains(s.ckpt, e) {
			if err := s.use(e, format.KindCheckpoint, 0); err != nil {
				return err
			}
		}
	}
	s.ckpt = slices.Clone(o.Extents)
	return nil
}

// MaxPartitions bounds the partitions of one topic.
const MaxPartitions = 1 << 16
