package partition

import "encoding/binary"

// The constants of Kafka's murmur2, as fixed in the Java client's
// org.apache.kafka.common.utils.Utils.murmur2: Austin Appleby's MurmurHash2
// with the seed Kafka chose. They are part of the wire contract: any other
// value sends keys to other partitions than every Kafka client does.
const (
	murmurSeed  uint32 = 0x9747b28c
	murmurMul   uint32 = 0x5bd1e995
	murmurShift        = 24
)

// Murmur2 returns Kafka's murmur2 hash of b, bit for bit the int that the
// Java client's Utils.murmur2 returns for the same bytes. It is exported
// apart from ForKey for tools that compare hashes with Java output, which
// prints the signed value.
func Murmur2(b []byte) int32 {
	// Java computes in int and shifts with >>>; uint32 arithmetic wraps
	// the same way and its >> is that logical shift, so the bits agree.
	h := murmurSeed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := binary.LittleEndian.Uint32(b)
		k *= murmurMul
		k ^= k >> murmurShift
		k *= murmurMul
		h = h*murmurMul ^ k
	}
	// The last one to three bytes are folded in from the highest down,
	// each case falling into the next, and only then multiplied once:
	// Java's switch without breaks.
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= murmurMul
	}
	h ^= h >> 13
	h *= murmurMul
	h ^= h >> 15
	return int32(h)
}

// ForKey returns the partition, in [0, partitions), that Kafka's clients
// choose for a record with this key: murmur2 with its sign bit cleared
// (Java's Utils.toPositive, not Math.abs), modulo the partition count. This
// is the Java client's BuiltInPartitioner.partitionForKey (DefaultPartitioner
// before Kafka 3.3) and franz-go's StickyKeyPartitioner with its default
// hasher, so a key lands where a Java or franz-go producer would put it.
//
// The key is the serialized key. A record without a key (nil) is not hashed
// by Kafka's partitioners; ForKey itself hashes nil like an empty key.
// ForKey panics if partitions is not positive.
func ForKey(key []byte, partitions int32) int32 {
	mustPositive(partitions)
	return (Murmur2(key) & 0x7fffffff) % partitions
}

// mustPositive stops a partitioner asked to choose among no partitions:
// every answer would be wrong, and a modulo by zero would panic anyway
// with a less useful message.
func mustPositive(partitions int32) {
	if partitions <= 0 {
		panic("partition: partition count must be positive")
	}
}
