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

// flight is the producer's commit out: its batches, their encodings, and
// its outcome. The holder of Producer.committing owns it.
type flight struct {
	batches []*batch
	errs    []error   // why each batch could not be encoded, or nil
	txn     store.Txn // appends the batches that were encoded, in order
	at      time.Time // when it was first committed: retries end DeliveryTimeout later
	results []store.AppendResult
	err     error
}

// send is the producer's goroutine: it commits the batches that are ready,
// one commit at a time, and acknowledges the records of every commit, its
// own and those a producing goroutine made for an idle producer.
func (p *Producer) send() {
	defer close(p.sent)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		p.mu.Lock()
		var wait time.Duration
		collected := false
		if !p.committing {
			wait = p.collect()
			collected = len(p.out.batches) > 0
			p.committing = collected
		}
		done := !p.committing && p.closing && p.unacked == 0
		p.mu.Unlock()
		switch {
		case done:
			return
		case collected:
			p.write()
		case wait > 0:
			timer.Reset(wait)
		}
		select {
		case <-p.kick:
		case <-p.landed:
			p.acknowledgeOut()
		case <-timer.C:
		}
		timer.Stop()
	}
}

// collect takes into out the oldest ready batch of each partition, closing
// open batches that are due, and returns how long until the next one is due
// when none is; p.mu is held. One batch per partition per commit keeps a
// partition's sequence numbers in commit order.
func (p *Producer) collect() time.Duration {
	var now time.Time
	if p.opts.Linger > 0 {
		now = time.Now()
	}
	batches := p.out.batches[:0]
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
	p.out.batches = batches
	return wait
}

// due returns how long b may still linger; zero or less means it is due.
func (p *Producer) due(b *batch, now time.Time) time.Duration {
	if p.opts.Linger == 0 || p.flushing > 0 || p.closing {
		return 0
	}
	return b.started.Add(p.opts.Linger).Sub(now)
}

// write encodes the batches of out and commits them without waiting for
// the outcome, which the sender acknowledges; committing is held.
func (p *Producer) write() {
	if p.encodeOut() {
		p.commitOut()
	}
}

// writeAndAcknowledge commits out like write, for ProduceSync call, which
// waits for its records anyway; it waits for the outcome and, when every
// batch was written and holds records of call alone, acknowledges them on
// this goroutine: no goroutine switch to the sender and back. An outcome
// that needs more (a retry, a batch that could not be encoded) goes to the
// sender, as write's does, and so do the records of others, whose
// callbacks run on the sender.
func (p *Producer) writeAndAcknowledge(call uint64) {
	if !p.encodeOut() {
		return
	}
	f := &p.out
	if err := p.commit(context.Background(), &f.txn, p.onLandedHere); err != nil {
		f.results, f.err = nil, err
	} else {
		<-p.landedHere
	}
	if f.err != nil || len(f.txn.Appends) < len(f.batches) || !f.madeBy(call) {
		p.landed <- struct{}{}
		return
	}
	p.acknowledgeOut()
	p.mu.Lock()
	if len(p.active) > 0 || p.closing {
		// Records that came while the commit was out did not wake the
		// sender, which collects when a commit lands.
		p.wakeSender()
	}
	p.mu.Unlock()
}

// madeBy reports whether every record of f's batches is of ProduceSync call.
func (f *flight) madeBy(call uint64) bool {
	for _, b := range f.batches {
		for _, br := range b.records {
			if br.call != call {
				return false
			}
		}
	}
	return true
}

// encodeOut encodes the batches of out into its txn and reports whether
// any is to be committed; if none is, it lands out at once, for the sender
// to fail the batches with their errors.
func (p *Producer) encodeOut() bool {
	// The store copies the batches into the file before it completes a
	// commit, so one buffer serves the compressed batches of every commit,
	// and the uncompressed ones stay in their builders, untouched until the
	// batches are acknowledged.
	f := &p.out
	p.compressed = p.compressed[:0]
	f.errs = f.errs[:0]
	f.txn = store.Txn{Durability: store.Durability(p.opts.Durability), Appends: f.txn.Appends[:0], Built: true}
	for _, b := range f.batches {
		out, err := b.encode(p.id, b.part.seq, p.opts.Compression, &p.compressed)
		f.errs = append(f.errs, err)
		if err == nil {
			f.txn.Appends = append(f.txn.Appends, store.Append{Topic: b.part.topic.name, Partition: b.part.index, Batches: out})
		}
	}
	if len(f.txn.Appends) == 0 {
		p.land(nil, nil)
		return false
	}
	f.at = time.Now()
	return true
}

// commitOut commits the txn of out; land receives the outcome.
func (p *Producer) commitOut() {
	if err := p.commit(context.Background(), &p.out.txn, p.onLanded); err != nil {
		p.land(nil, err)
	}
}

// land keeps the outcome of out's commit and tells the sender. It may run on
// the store's goroutine, where it must not block: landed has room, as one
// commit is out at a time and the sender takes each outcome before the next
// commit.
func (p *Producer) land(results []store.AppendResult, err error) {
	p.out.results, p.out.err = results, err
	p.landed <- struct{}{}
}

// landHere is land for writeAndAcknowledge, which waits on landedHere.
func (p *Producer) landHere(results []store.AppendResult, err error) {
	p.out.results, p.out.err = results, err
	p.landedHere <- struct{}{}
}

// commitWait commits the txn of out and waits for the outcome; on the sender.
func (p *Producer) commitWait() ([]store.AppendResult, error) {
	p.commitOut()
	<-p.landed
	return p.out.results, p.out.err
}

// acknowledgeOut acknowledges the records of out once its commit landed,
// after retrying it while it failed with an error that may pass; then the
// next commit may go. When a commit of several partitions fails for a reason
// that belongs to one of them (an unknown topic, a batch too large), it
// commits each alone, so that one partition's failure fails only its own
// records. On the sender.
func (p *Producer) acknowledgeOut() {
	f := &p.out
	// Before the batches are acknowledged and recycled.
	oneByOne := len(f.batches) == 1 && len(f.batches[0].records) == 1
	results, err := p.retry(f.at, f.results, f.err)
	appends := f.txn.Appends
	alone := err != nil && len(appends) > 1 && !fatal(err)
	j := 0 // the batch's append
	for i, b := range f.batches {
		switch {
		case f.errs[i] != nil:
			p.acknowledge(b, store.AppendResult{}, f.errs[i])
			continue
		case alone:
			f.txn.Appends = appends[j : j+1]
			at := time.Now()
			res, err := p.commitWait()
			res, err = p.retry(at, res, err)
			p.acknowledge(b, firstResult(res), err)
		case err != nil:
			p.acknowledge(b, store.AppendResult{}, err)
		default:
			p.acknowledge(b, results[j], nil)
		}
		j++
	}
	f.txn.Appends = appends
	clear(f.batches)
	f.batches = f.batches[:0]
	p.mu.Lock()
	p.committing, p.oneByOne = false, oneByOne
	p.mu.Unlock()
}

func firstResult(res []store.AppendResult) store.AppendResult {
	if len(res) == 0 {
		return store.AppendResult{}
	}
	return res[0]
}

// retry commits the txn of out again while its last attempt failed with an
// error that may pass, until DeliveryTimeout after its first attempt at, and
// returns the last outcome. A retried batch carries the same producer id
// and sequence numbers, so that if the failed attempt was written after
// all, the store recognizes the retry as a duplicate and answers with the
// offsets of the first.
func (p *Producer) retry(at time.Time, results []store.AppendResult, err error) ([]store.AppendResult, error) {
	deadline := at.Add(p.opts.DeliveryTimeout)
	backoff := 10 * time.Millisecond
	for err != nil && !permanent(err) && !time.Now().Add(backoff).After(deadline) {
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
		results, err = p.commitWait()
	}
	return results, err
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
