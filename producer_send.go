package spool

import (
	"context"
	"errors"
	"time"

	"github.com/spooldb/spool/internal/store"
)

// maxCommitPartitions bounds the partitions of one commit, to keep its
// journal record well within an extent.
const maxCommitPartitions = 256

// send is the producer's goroutine: it commits the batches that are ready,
// one commit at a time, and acknowledges their records.
func (p *Producer) send() {
	defer close(p.sent)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		p.mu.Lock()
		batches, wait := p.collect(time.Now())
		done := len(batches) == 0 && p.closing && p.unacked == 0
		p.mu.Unlock()
		switch {
		case done:
			return
		case len(batches) > 0:
			p.write(batches)
			continue
		case wait > 0:
			timer.Reset(wait)
		}
		select {
		case <-p.kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// collect takes the oldest ready batch of each partition, closing open
// batches that are due, and returns how long until the next one is due when
// none is; p.mu is held. One batch per partition per commit keeps a
// partition's sequence numbers in commit order.
func (p *Producer) collect(now time.Time) ([]*batch, time.Duration) {
	var batches []*batch
	var wait time.Duration
	keep := p.active[:0]
	for _, part := range p.active {
		if part.open != nil && len(part.ready) == 0 && len(batches) < maxCommitPartitions {
			if due := p.due(part.open, now); due > 0 {
				if wait == 0 || due < wait {
					wait = due
				}
			} else {
				p.close(part)
			}
		}
		if len(part.ready) > 0 && len(batches) < maxCommitPartitions {
			batches = append(batches, part.ready[0])
			part.ready[0] = nil
			part.ready = part.ready[1:]
		}
		if part.open == nil && len(part.ready) == 0 {
			part.active = false
			continue
		}
		keep = append(keep, part)
	}
	clear(p.active[len(keep):])
	p.active = keep
	return batches, wait
}

// due returns how long b may still linger; zero or less means it is due.
func (p *Producer) due(b *batch, now time.Time) time.Duration {
	if p.opts.Linger == 0 || p.flushing > 0 || p.closing {
		return 0
	}
	return b.started.Add(p.opts.Linger).Sub(now)
}

// write commits batches and acknowledges their records. When a commit of
// several partitions fails for a reason that belongs to one of them (an
// unknown topic, a batch too large), it commits each alone, so that one
// partition's failure fails only its own records.
func (p *Producer) write(batches []*batch) {
	// The store copies the batches into the file before a commit returns,
	// so one buffer serves the compressed batches of every commit, and the
	// uncompressed ones stay in their builders, untouched until the batches
	// are acknowledged.
	p.compressed = p.compressed[:0]
	var encoded [][]byte
	var ok []*batch
	for _, b := range batches {
		out, err := b.encode(p.id, b.part.seq, p.opts.Compression, &p.compressed)
		if err != nil {
			p.acknowledge(b, store.AppendResult{}, err)
			continue
		}
		encoded = append(encoded, out)
		ok = append(ok, b)
	}
	results, err := p.commitRetrying(ok, encoded)
	if err != nil && len(ok) > 1 && !fatal(err) {
		for i, b := range ok {
			res, err := p.commitRetrying([]*batch{b}, encoded[i:i+1])
			p.acknowledge(b, firstResult(res), err)
		}
		return
	}
	for i, b := range ok {
		var res store.AppendResult
		if err == nil {
			res = results[i]
		}
		p.acknowledge(b, res, err)
	}
}

func firstResult(res []store.AppendResult) store.AppendResult {
	if len(res) == 0 {
		return store.AppendResult{}
	}
	return res[0]
}

// commitRetrying commits the encoded batches in one commit, retrying an
// error that may pass until the delivery timeout. A retried batch carries
// the same producer id and sequence numbers, so that if the failed attempt
// was written after all, the store recognizes the retry as a duplicate and
// answers with the offsets of the first.
func (p *Producer) commitRetrying(batches []*batch, encoded [][]byte) ([]store.AppendResult, error) {
	if len(batches) == 0 {
		return nil, nil
	}
	txn := &store.Txn{Durability: store.Durability(p.opts.Durability), Appends: make([]store.Append, len(batches)), Built: true}
	for i, b := range batches {
		txn.Appends[i] = store.Append{Topic: b.part.topic.name, Partition: b.part.index, Batches: encoded[i]}
	}
	deadline := time.Now().Add(p.opts.DeliveryTimeout)
	backoff := 10 * time.Millisecond
	for {
		results, err := p.commit(context.Background(), txn)
		if err == nil || permanent(err) || time.Now().Add(backoff).After(deadline) {
			return results, err
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// acknowledge completes the records of b with the outcome of its commit.
func (p *Producer) acknowledge(b *batch, res store.AppendResult, err error) {
	part := b.part
	if err == nil {
		part.seq = nextSequence(part.seq, len(b.records))
	}
	logAppendTime := err == nil && res.LogAppendTime >= 0
	for i, br := range b.records {
		if err == nil {
			br.r.Offset = res.BaseOffset + int64(i)
		}
		if logAppendTime {
			br.r.Timestamp = time.UnixMilli(res.LogAppendTime)
		}
		br.done(br.r, err)
	}
	p.mu.Lock()
	if err != nil && (errors.Is(err, ErrUnknownTopic) || errors.Is(err, ErrUnknownPartition)) && p.topics[part.topic.name] == part.topic {
		// The topic was deleted, or deleted and created anew: look it up
		// again for the next record.
		delete(p.topics, part.topic.name)
		p.lastTopic = nil
	}
	p.buffered -= b.bytes
	p.unacked -= len(b.records)
	p.signal()
	p.recycle(b)
	p.mu.Unlock()
}

// nextSequence returns the sequence number after n records from seq; Kafka's
// sequences wrap from MaxInt32 to 0.
func nextSequence(seq int32, n int) int32 {
	return int32((int64(seq) + int64(n)) % (1 << 31))
}

// permanent reports whether err will not pass by retrying the same commit.
func permanent(err error) bool {
	return fatal(err) || errors.Is(err, ErrUnknownTopic) || errors.Is(err, ErrUnknownPartition) ||
		errors.Is(err, ErrRecordTooLarge) || errors.Is(err, ErrTxnTooLarge) || errors.Is(err, store.ErrInvalidBatch) ||
		errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrOutOfOrderSequence) || errors.Is(err, ErrProducerFenced)
}

// fatal reports whether err ends every commit of the DB, not one.
func fatal(err error) bool {
	return errors.Is(err, ErrClosed) || errors.Is(err, ErrFailed) || errors.Is(err, ErrReadOnly) || errors.Is(err, ErrCorrupt)
}
