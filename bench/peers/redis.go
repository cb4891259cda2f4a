package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooldb/spool/internal/bench"
)

// Redis Streams: one stream key per partition; producers pipeline their
// XADDs, consumers read with XRANGE (XREAD BLOCK at the end of a stream) or,
// in a group, XREADGROUP and XACK. Durability is appendfsync, set on the
// server for each stream's workload: everysec for async, always for sync.
type redisSystem struct {
	c *redis.Client
}

func newRedis(ctx context.Context, addr string) (*redisSystem, error) {
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	c := redis.NewClient(&redis.Options{Network: network, Addr: addr, PoolSize: 256, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	if err := c.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		c.Close()
		return nil, err
	}
	return &redisSystem{c: c}, nil
}

func (*redisSystem) Name() string { return "redis" }

func (*redisSystem) Mode(d bench.Durability) string {
	return "appendonly, appendfsync " + redisFsync(d)
}

func redisFsync(d bench.Durability) string {
	if d == bench.Sync {
		return "always"
	}
	return "everysec"
}

func (s *redisSystem) Stream(ctx context.Context, spec bench.Spec) (bench.Stream, error) {
	st := &redisStream{c: s.c, spec: spec}
	if !spec.Attach {
		if err := s.c.ConfigSet(ctx, "appendfsync", redisFsync(spec.Durability)).Err(); err != nil {
			return nil, err
		}
		if err := st.drop(ctx); err != nil {
			return nil, err
		}
	}
	return st, nil
}

type redisStream struct {
	c    *redis.Client
	spec bench.Spec
}

func (st *redisStream) key(p int) string { return fmt.Sprintf("%s:%d", st.spec.Name, p) }

func (st *redisStream) drop(ctx context.Context) error {
	keys := make([]string, st.spec.Partitions)
	for p := range keys {
		keys[p] = st.key(p)
	}
	return st.c.Del(ctx, keys...).Err()
}

func (st *redisStream) Close(drop bool) error {
	if drop {
		return st.drop(context.Background())
	}
	return nil
}

func (st *redisStream) Producer(context.Context) (bench.Producer, error) {
	return redisProducer{st}, nil
}

type redisProducer struct{ st *redisStream }

func (p redisProducer) Send(ctx context.Context, partition int, values [][]byte) error {
	key := p.st.key(partition)
	if len(values) == 1 {
		return p.st.c.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"v", values[0]}}).Err()
	}
	pipe := p.st.c.Pipeline()
	for _, v := range values {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"v", v}})
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (redisProducer) Close() error { return nil }

func (st *redisStream) Consumer(_ context.Context, group string) (bench.Consumer, error) {
	return &redisConsumer{st: st, group: group, last: map[int]string{}, read: map[int][]string{}, created: map[int]bool{}}, nil
}

type redisConsumer struct {
	st      *redisStream
	group   string
	last    map[int]string   // the last ID read, by partition
	read    map[int][]string // IDs read since the last commit (groups)
	created map[int]bool     // the group exists on the partition's stream
}

func (c *redisConsumer) Poll(ctx context.Context, partition int, max int, wait bool, fn func([]byte)) (int, error) {
	key := c.st.key(partition)
	var msgs []redis.XMessage
	var err error
	switch {
	case c.group != "":
		msgs, err = c.readGroup(ctx, partition, key, max, wait)
	case wait:
		msgs, err = c.readWait(ctx, key, c.lastID(partition), max)
	default:
		msgs, err = c.st.c.XRangeN(ctx, key, "("+c.lastID(partition), "+", int64(max)).Result()
	}
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		v, _ := m.Values["v"].(string)
		fn([]byte(v))
		if c.group != "" {
			c.read[partition] = append(c.read[partition], m.ID)
		}
	}
	if len(msgs) > 0 {
		c.last[partition] = msgs[len(msgs)-1].ID
	}
	return len(msgs), nil
}

func (c *redisConsumer) lastID(p int) string {
	if id, ok := c.last[p]; ok {
		return id
	}
	return "0-0"
}

// readWait blocks in XREAD until the stream has entries after last.
func (c *redisConsumer) readWait(ctx context.Context, key, last string, max int) ([]redis.XMessage, error) {
	for {
		res, err := c.st.c.XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Count: int64(max), Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return res[0].Messages, nil
	}
}

func (c *redisConsumer) readGroup(ctx context.Context, p int, key string, max int, wait bool) ([]redis.XMessage, error) {
	if !c.created[p] {
		err := c.st.c.XGroupCreateMkStream(ctx, key, c.group, "0").Err()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return nil, err
		}
		c.created[p] = true
	}
	block := time.Duration(-1) // no BLOCK argument
	if wait {
		block = time.Second
	}
	res, err := c.st.c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: c.group, Consumer: "c", Streams: []string{key, ">"},
		Count: int64(max), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return res[0].Messages, nil
}

func (c *redisConsumer) Commit(ctx context.Context, partition int) error {
	ids := c.read[partition]
	if len(ids) == 0 {
		return nil
	}
	c.read[partition] = ids[:0]
	return c.st.c.XAck(ctx, c.st.key(partition), c.group, ids...).Err()
}

func (c *redisConsumer) Close() error { return nil }
