package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spooldb/spool/internal/bench"
)

// NATS JetStream with file storage: one stream per workload, a subject per
// partition; a request of one record is a Publish that waits for its ack, a
// request of several is that many PublishAsync calls and a wait for all
// their acks. Consumers pull through Messages (which keeps pull requests
// outstanding, the fastest way to read); a group is a durable consumer per
// partition with AckAll, acknowledged after each poll. The server syncs
// its files every 2 minutes by default and after every write with
// sync_interval: always, a server-wide setting: the sync workloads run on
// a second server configured so.
type natsSystem struct {
	async, sync *nats.Conn // to the default server and to the sync-always one
}

func newNATS(asyncURL, syncURL string) (*natsSystem, error) {
	s := &natsSystem{}
	var err error
	if s.async, err = nats.Connect(asyncURL); err != nil {
		return nil, err
	}
	if syncURL != "" {
		if s.sync, err = nats.Connect(syncURL); err != nil {
			s.async.Close()
			return nil, err
		}
	}
	return s, nil
}

func (*natsSystem) Name() string { return "nats" }

func (*natsSystem) Mode(d bench.Durability) string {
	if d == bench.Sync {
		return "file storage, sync_interval always"
	}
	return "file storage, default sync (every 2 min)"
}

func (s *natsSystem) Stream(ctx context.Context, spec bench.Spec) (bench.Stream, error) {
	nc := s.async
	if spec.Durability == bench.Sync {
		if nc = s.sync; nc == nil {
			return nil, bench.Skip("no NATS server with sync_interval: always (pass --nats-sync)")
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if !spec.Attach {
		if err := js.DeleteStream(ctx, spec.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, err
		}
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: spec.Name, Subjects: []string{spec.Name + ".>"},
			Storage: jetstream.FileStorage})
	}
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	return &natsStream{js: js, stream: stream, spec: spec}, nil
}

type natsStream struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	spec   bench.Spec
}

func (st *natsStream) subject(p int) string { return fmt.Sprintf("%s.%d", st.spec.Name, p) }

func (st *natsStream) Close(drop bool) error {
	if drop {
		return st.js.DeleteStream(context.Background(), st.spec.Name)
	}
	return nil
}

func (st *natsStream) Producer(context.Context) (bench.Producer, error) { return natsProducer{st}, nil }

type natsProducer struct{ st *natsStream }

func (p natsProducer) Send(ctx context.Context, partition int, values [][]byte) error {
	subj := p.st.subject(partition)
	if len(values) == 1 {
		_, err := p.st.js.Publish(ctx, subj, values[0])
		return err
	}
	futures := make([]jetstream.PubAckFuture, len(values))
	for i, v := range values {
		// Past the client's limit of acks outstanding (4000), wait for
		// room rather than fail: back-pressure, as a steady producer has.
		f, err := p.st.js.PublishAsync(subj, v, jetstream.WithStallWait(time.Minute))
		if err != nil {
			return err
		}
		futures[i] = f
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (natsProducer) Close() error { return nil }

func (st *natsStream) Consumer(_ context.Context, group string) (bench.Consumer, error) {
	return &natsConsumer{st: st, group: group, consumers: map[int]jetstream.Consumer{},
		iters: map[int]jetstream.MessagesContext{}, last: map[int]jetstream.Msg{}}, nil
}

type natsConsumer struct {
	st        *natsStream
	group     string
	consumers map[int]jetstream.Consumer
	iters     map[int]jetstream.MessagesContext // for polls that wait
	last      map[int]jetstream.Msg             // the last message read, to acknowledge
}

// natsPrefetch is how many messages a waiting consumer's outstanding pull requests
// ask for.
const natsPrefetch = 4096

// consumer returns partition p's consumer, created on first use.
func (c *natsConsumer) consumer(ctx context.Context, p int) (jetstream.Consumer, error) {
	if cons, ok := c.consumers[p]; ok {
		return cons, nil
	}
	var cons jetstream.Consumer
	var err error
	if c.group == "" {
		cons, err = c.st.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.st.subject(p)}})
	} else {
		cons, err = c.st.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable: fmt.Sprintf("%s_%d", c.group, p), FilterSubject: c.st.subject(p),
			AckPolicy: jetstream.AckAllPolicy, MaxAckPending: -1})
	}
	if err != nil {
		return nil, err
	}
	c.consumers[p] = cons
	return cons, nil
}

// Poll fetches what is there with one pull request (FetchNoWait) when it
// need not wait. When it must wait, it takes the next message from Messages,
// which keeps pull requests outstanding: the fastest way to see a new
// message.
func (c *natsConsumer) Poll(ctx context.Context, partition int, max int, wait bool, fn func([]byte)) (int, error) {
	cons, err := c.consumer(ctx, partition)
	if err != nil {
		return 0, err
	}
	if wait {
		it, ok := c.iters[partition]
		if !ok {
			if it, err = cons.Messages(jetstream.PullMaxMessages(natsPrefetch)); err != nil {
				return 0, err
			}
			c.iters[partition] = it
		}
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return 0, err
		}
		fn(m.Data())
		c.last[partition] = m
		return 1, nil // one is what was waited for; the next may be far off
	}
	batch, err := cons.FetchNoWait(max)
	if err != nil {
		return 0, err
	}
	n := 0
	for m := range batch.Messages() {
		fn(m.Data())
		c.last[partition] = m
		n++
	}
	return n, batch.Error()
}

func (c *natsConsumer) Commit(ctx context.Context, partition int) error {
	m, ok := c.last[partition]
	if !ok {
		return nil
	}
	delete(c.last, partition)
	return m.DoubleAck(ctx)
}

func (c *natsConsumer) Close() error {
	for _, it := range c.iters {
		it.Stop()
	}
	return nil
}
