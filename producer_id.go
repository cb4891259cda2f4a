package spool

import "context"

// producerID identifies an idempotent producer to the store: its id and
// epoch, stamped on every batch with the batch's sequence number.
type producerID struct {
	id    int64
	epoch int16
}

// noProducerID marks batches of a producer without idempotence, as Kafka's
// plain producers send them.
var noProducerID = producerID{id: -1, epoch: -1}

// initProducerID allocates a producer id in the file: unique among all the
// producers that ever wrote to it, from any process.
func (db *DB) initProducerID() (producerID, error) {
	id, err := db.s.InitProducer(context.Background())
	if err != nil {
		return noProducerID, err
	}
	return producerID{id: id.ID, epoch: id.Epoch}, nil
}
