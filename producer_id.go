package spool

// producerID identifies an idempotent producer to the store: its id and
// epoch, stamped on every batch with the batch's sequence number.
type producerID struct {
	id    int64
	epoch int16
}

// noProducerID marks batches of a producer without idempotence, as Kafka's
// plain producers send them.
var noProducerID = producerID{id: -1, epoch: -1}

// initProducerID allocates a producer id in the file.
func (db *DB) initProducerID() (producerID, error) {
	return noProducerID, nil // until the store allocates producer ids
}
