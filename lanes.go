package spool

import "strconv"

// A lane is the records that must be handled one after another: those of a
// partition (PerPartition), of a key in a partition (PerKey), or a single
// record (Unordered). Lanes run on the pool of workers, one record of a
// lane at a time, any number of lanes at once:
//
//	coordinator --dispatch--> lanes {p0: r1 r4} {p1: r2} {p2: r3 r5}
//	                                   |            |        |
//	                          ready ---+------------+--------+--> workers
//
// A lane with records is on the ready queue or with a worker, never both;
// a lane that runs dry is dropped.
type lane struct {
	key     laneKey
	queue   []job
	running bool // on the ready queue or with a worker
}

type laneKey struct {
	tp  TopicPartition
	key string // the record key (PerKey) or a sequence number (Unordered)
}

// job is one record for a worker.
type job struct {
	r *Record
	a *partitionAcks
}

// laneFor returns the lane key of r; w.mu is held.
func (w *Workers) laneFor(r *Record) laneKey {
	k := laneKey{tp: TopicPartition{r.Topic, r.Partition}}
	switch w.opts.Ordering {
	case PerKey:
		k.key = string(r.Key)
	case Unordered:
		w.unordered++
		k.key = strconv.FormatUint(w.unordered, 10)
	}
	return k
}

// dispatch queues jobs on their lanes, making ready the lanes that were
// idle, and counts them in flight.
func (w *Workers) dispatch(jobs []job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inflight += len(jobs)
	for _, j := range jobs {
		k := w.laneFor(j.r)
		l := w.lanes[k]
		if l == nil {
			l = &lane{key: k}
			w.lanes[k] = l
		}
		l.queue = append(l.queue, j)
		if !l.running {
			l.running = true
			w.makeReady(l)
		}
	}
}

// makeReady puts l on the ready queue; w.mu is held. The queue is a slice,
// not a channel: one poll may hand over more lanes than MaxInFlight, and a
// send that blocked here would hold w.mu against the workers that drain it.
func (w *Workers) makeReady(l *lane) {
	w.ready = append(w.ready, l)
	w.work.Signal()
}

// take ends the record a worker had of lane done (nil for none), putting
// the lane back on the ready queue if it has more, then waits for a ready
// lane and takes its first record; false once the pool stopped and no lane
// is ready. One hold of w.mu does both, per record.
func (w *Workers) take(done *lane) (*lane, job, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if done != nil {
		w.inflight--
		w.space.Broadcast()
		if len(done.queue) > 0 {
			w.makeReady(done)
		} else {
			done.running = false
			delete(w.lanes, done.key)
		}
	}
	for {
		for len(w.ready) == 0 && !w.stopped {
			w.work.Wait()
		}
		if len(w.ready) == 0 {
			return nil, job{}, false
		}
		l := w.ready[0]
		w.ready[0] = nil
		w.ready = w.ready[1:]
		if len(l.queue) == 0 { // dropQueued emptied it
			l.running = false
			delete(w.lanes, l.key)
			continue
		}
		j := l.queue[0]
		l.queue[0] = job{}
		l.queue = l.queue[1:]
		return l, j, true
	}
}

// dropQueued removes the records of tp that no worker has started, and
// ends them unacknowledged: the partition's next owner delivers them.
func (w *Workers) dropQueued(tp TopicPartition) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, l := range w.lanes {
		if k.tp != tp {
			continue
		}
		for _, j := range l.queue {
			j.a.abandon()
			w.inflight--
		}
		l.queue = nil
	}
	w.space.Broadcast()
}
