package format

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrOpCorrupt is returned for journal operations that do not decode: a record
// whose checksum held but whose contents make no sense, which only a bug or a
// newer format can produce.
var ErrOpCorrupt = errors.New("format: corrupt journal operation")

// maxString bounds names, group ids and metadata, so a corrupt length cannot
// make a decoder allocate without limit.
const maxString = 1 << 16

// opDecoder reads the fields of one operation, remembering the first error so
// that decoding code reads as a list of fields.
type opDecoder struct {
	b   []byte
	err error
}

func (d *opDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or oversized %s", ErrOpCorrupt, what)
	}
}

func (d *opDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *opDecoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *opDecoder) u32(what string) uint32 {
	v := d.uvarint(what)
	if v > 1<<32-1 {
		d.fail(what)
		return 0
	}
	return uint32(v)
}

// signed reads a zig-zag varint that must fit in bits bits.
func (d *opDecoder) signed(what string, bits uint) int64 {
	v := d.varint(what)
	if v < -1<<(bits-1) || v > 1<<(bits-1)-1 {
		d.fail(what)
		return 0
	}
	return v
}

func (d *opDecoder) i32(what string) int32 { return int32(d.signed(what, 32)) }

func (d *opDecoder) i16(what string) int16 { return int16(d.signed(what, 16)) }

func (d *opDecoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *opDecoder) str(what string) string {
	n := d.uvarint(what)
	if d.err != nil {
		return ""
	}
	if n > maxString || n > uint64(len(d.b)) {
		d.fail(what)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads the number of elements of a list whose every element takes at
// least minBytes bytes, refusing a count the remaining bytes cannot hold.
func (d *opDecoder) count(what string, minBytes int) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minBytes) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *opDecoder) u32s(what string) []uint32 {
	n := d.count(what, 1)
	if d.err != nil {
		return nil
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = d.u32(what)
	}
	return v
}

func (d *opDecoder) config() []ConfigEntry {
	n := d.count("config count", 2)
	if d.err != nil {
		return nil
	}
	c := make([]ConfigEntry, n)
	for i := range c {
		c[i].Name = d.str("config name")
		c[i].Value = d.str("config value")
	}
	return c
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendU32s(b []byte, v []uint32) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = binary.AppendUvarint(b, uint64(x))
	}
	return b
}

func appendConfig(b []byte, c []ConfigEntry) []byte {
	b = binary.AppendUvarint(b, uint64(len(c)))
	for _, e := range c {
		b = appendStr(b, e.Name)
		b = appendStr(b, e.Value)
	}
	return b
}
