package spool

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/spooldb/spool/internal/codec"
	"github.com/spooldb/spool/internal/format"
)

// producerTopic is what a producer knows of a topic.
type producerTopic struct {
	name        string
	partitioner partitioner
	parts       []*producerPartition
	// maxBatch is the most bytes a batch may hold: the producer's
	// BatchBytes within the topic's max.message.bytes.
	maxBatch   int
	maxMessage int
}

// producerPartition is a partition's batches: the one filling, and those
// closed and waiting for the sender, oldest first.
type producerPartition struct {
	topic  *producerTopic
	index  int32
	open   *batch
	ready  []*batch
	active bool // in Producer.active
	// seq is the sequence number of the next batch's first record, known
	// to the holder of Producer.committing alone.
	seq int32
}

// batch is the records of one partition on their way into one RecordBatch.
type batch struct {
	part    *producerPartition
	bb      format.BatchBuilder
	records []batchRecord
	bytes   int       // the records' buffer accounting, see recordSize
	started time.Time // when it opened, read only with a Linger
}

// batchRecord is a record of a batch and the callback that acknowledges it.
type batchRecord struct {
	r    *Record
	done func(*Record, error)
	call uint64 // the ProduceSync call that produced r, zero for Produce
}

// headerBytes is a header as the batch builder takes it.
type headerBytes = format.RecordHeader

// recordSize bounds the bytes r takes in a batch: its fields and the most
// each varint of the record encoding may take.
func recordSize(r *Record) int {
	n := len(r.Key) + len(r.Value) + 40
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}

// produce queues r, or says why it cannot. When r, from Produce (call
// zero), found the producer idle, it puts r's batch in out and sets
// committing: the caller is to write it. The records of ProduceSync call
// wake nobody: the call takes them out itself once all are queued.
func (p *Producer) produce(ctx context.Context, r *Record, done func(*Record, error), call uint64) (write bool, err error) {
	size := recordSize(r)
	var timestamp int64 // in milliseconds, as Kafka keeps it
	if r.Timestamp.IsZero() {
		// The acknowledged record shows what consumers will see.
		timestamp = p.clock.nowMilli()
		r.Timestamp = time.UnixMilli(timestamp)
	} else {
		timestamp = r.Timestamp.UnixMilli()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.waitForSpace(ctx, size); err != nil {
		return false, err
	}
	t, err := p.topic(ctx, r.Topic)
	if err != nil {
		return false, err
	}
	if size+format.BatchHeaderSize > t.maxMessage {
		return false, fmt.Errorf("%w: a record of about %d bytes for topic %s, whose max.message.bytes is %d",
			ErrRecordTooLarge, size, t.name, t.maxMessage)
	}
	part, err := t.choose(r)
	if err != nil {
		return false, err
	}
	if part.open != nil && part.open.bb.Size()+size > t.maxBatch {
		if p.close(part) {
			if part, err = t.choose(r); err != nil {
				return false, err
			}
			if part.open != nil && part.open.bb.Size()+size > t.maxBatch {
				p.close(part)
			}
		}
	}
	// With no linger, no commit out and no other batch, r's batch goes at
	// once, from this goroutine, when records come one at a time (the last
	// commit held one). After a commit of several, more records are likely
	// on their way: the time it takes the sender to wake gathers them into
	// r's batch rather than behind a commit of r alone.
	idle := call == 0 && p.opts.Linger == 0 && !p.committing && len(p.active) == 0 && p.oneByOne
	if part.open == nil {
		part.open = p.newBatch(part)
		part.open.bb.Reset(timestamp)
	}
	b := part.open
	p.scratch = p.scratch[:0]
	for _, h := range r.Headers {
		// The builder copies the key at once: viewing the string's bytes
		// saves a copy per header.
		p.scratch = append(p.scratch, headerBytes{Key: unsafe.Slice(unsafe.StringData(h.Key), len(h.Key)), Value: h.Value})
	}
	b.bb.Append(timestamp, r.Key, r.Value, p.scratch...)
	r.Partition = part.index
	b.records = append(b.records, batchRecord{r, done, call})
	b.bytes += size
	p.buffered += size
	p.unacked++
	if idle {
		part.open = nil
		part.topic.partitioner.batchDone(part.index)
		p.committing = true
		p.out.batches = append(p.out.batches[:0], b)
		return true, nil
	}
	if !part.active {
		// The sender goes on collecting until no partition is active, so
		// one wake for the batch will do: the records that join it need
		// none. While a commit is out, the sender collects when it lands.
		p.activate(part)
		if !p.committing && call == 0 {
			p.wakeSender()
		}
	}
	return false, nil
}

// waitForSpace waits until size more bytes fit in the buffer; p.mu is held.
// A record larger than the whole buffer waits until the buffer is empty.
func (p *Producer) waitForSpace(ctx context.Context, size int) error {
	for {
		if p.closing {
			return ErrProducerClosed
		}
		if p.buffered == 0 || p.buffered+size <= p.opts.MaxBufferedBytes {
			return nil
		}
		// The records that fill the buffer may be a ProduceSync's, which
		// woke nobody.
		p.wakeSender()
		if err := p.waitChange(ctx); err != nil {
			return err
		}
	}
}

// topic returns what the producer knows of a topic, looking it up (and
// creating it, if so configured) the first time; p.mu is held.
func (p *Producer) topic(ctx context.Context, name string) (*producerTopic, error) {
	if t := p.lastTopic; t != nil && t.name == name {
		return t, nil
	}
	if t := p.topics[name]; t != nil {
		p.lastTopic = t
		return t, nil
	}
	info, err := p.db.s.Topic(name)
	if err != nil && p.opts.AutoCreateTopics && errors.Is(err, ErrUnknownTopic) {
		err = p.db.s.CreateTopic(ctx, name, p.opts.AutoCreatePartitions, nil)
		if err == nil || errors.Is(err, ErrTopicExists) {
			info, err = p.db.s.Topic(name)
		}
	}
	if err != nil {
		return nil, err
	}
	t := &producerTopic{name: name, partitioner: p.opts.Partitioner.instance(),
		maxMessage: int(info.Config.MaxMessageBytes), parts: make([]*producerPartition, len(info.Partitions))}
	t.maxBatch = min(p.opts.BatchBytes, t.maxMessage)
	for i := range t.parts {
		t.parts[i] = &producerPartition{topic: t, index: int32(i)}
	}
	p.topics[name] = t
	p.lastTopic = t
	return t, nil
}

// choose returns the partition the partitioner picks for r.
func (t *producerTopic) choose(r *Record) (*producerPartition, error) {
	n := int32(len(t.parts))
	i := t.partitioner.partition(r, n)
	if i < 0 || i >= n {
		return nil, fmt.Errorf("%w: partition %d for topic %s, which has %d", ErrUnknownPartition, i, t.name, n)
	}
	return t.parts[i], nil
}

// close closes the open batch of part for the sender, and reports whether
// the partitioner moved on from part, so that a keyless record goes
// elsewhere; p.mu is held.
func (p *Producer) close(part *producerPartition) (moved bool) {
	part.ready = append(part.ready, part.open)
	part.open = nil
	if !p.committing {
		p.wakeSender()
	}
	return part.topic.partitioner.batchDone(part.index)
}

// activate puts part among the partitions the sender looks at; p.mu is held.
func (p *Producer) activate(part *producerPartition) {
	if !part.active {
		part.active = true
		p.active = append(p.active, part)
	}
}

// newBatch returns an empty batch for part, reusing one whose records were
// acknowledged; p.mu is held.
func (p *Producer) newBatch(part *producerPartition) *batch {
	var b *batch
	if n := len(p.free); n > 0 {
		b, p.free = p.free[n-1], p.free[:n-1]
	} else {
		b = new(batch)
	}
	b.part = part
	if p.opts.Linger > 0 {
		b.started = time.Now()
	}
	return b
}

// maxFreeBatches bounds the acknowledged batches kept for reuse.
const maxFreeBatches = 64

// recycle keeps b, whose records were acknowledged, for reuse: its builder
// and slices keep their capacity; p.mu is held.
func (p *Producer) recycle(b *batch) {
	if len(p.free) >= maxFreeBatches {
		return
	}
	clear(b.records)
	b.records, b.bytes, b.part = b.records[:0], 0, nil
	p.free = append(p.free, b)
}

// encode returns b as a RecordBatch, numbered from seq when the producer is
// idempotent. An uncompressed batch is sealed in b's own buffer, with no
// copy; a compressed one is appended to *compressed.
func (b *batch) encode(id producerID, seq int32, c Compression, compressed *[]byte) ([]byte, error) {
	if id.id >= 0 {
		b.bb.SetProducer(id.id, id.epoch, seq)
	}
	if c == NoCompression {
		return b.bb.Sealed(), nil
	}
	fc := format.Compression(c)
	start := len(*compressed)
	out, err := b.bb.BuildCompressed(*compressed, fc, codec.CompressFunc(fc))
	if err != nil {
		return nil, err
	}
	*compressed = out
	return out[start:len(out):len(out)], nil
}
