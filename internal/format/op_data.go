package format

// AppendData is an Append whose record also carries the batches it
// publishes: Data is exactly the bytes written at [Start, End) of Extent's
// payload. A record of them makes its commit durable by itself, wherever the
// extent's copy is: the writer syncs the journal's bytes alone, and recovery
// writes Data back into the extent. It is what makes a small synchronous
// commit cost one write to sync instead of one per partition and one for
// the journal.
//
//	Append's fields | Data (the rest of the payload, End-Start bytes)
type AppendData struct {
	Append
	Data []byte
}

// Type returns OpAppendData.
func (AppendData) Type() OpType { return OpAppendData }

func (o AppendData) appendPayload(b []byte) []byte {
	return append(o.Append.appendPayload(b), o.Data...)
}

// decodeAppendData reads an AppendData; its Data aliases the record.
func decodeAppendData(d *opDecoder) Op {
	a := decodeAppend(d)
	if d.err != nil {
		return nil
	}
	if a.End < a.Start || uint64(len(d.b)) != uint64(a.End-a.Start) {
		d.fail("append data")
		return nil
	}
	o := AppendData{Append: a, Data: d.b}
	d.b = nil
	return o
}
