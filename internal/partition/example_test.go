package partition_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/spooldb/spool/internal/partition"
)

// A producer that batches per partition drives a sticky partitioner: a
// record that does not fit closes its partition's batch, and if the sticky
// partition moves the record follows it.
func Example() {
	const partitions, batchSize = 4, 3
	part := partition.NewDefault(rand.NewPCG(1, 2))
	open := make([][]string, partitions)

	add := func(key, value string) {
		r := partition.Record{Value: []byte(value)}
		if key != "" {
			r.Key = []byte(key)
		}
		p := part.Partition(r, partitions)
		if len(open[p]) == batchSize {
			fmt.Printf("partition %d: batch %v\n", p, open[p])
			open[p] = nil
			if part.OnBatchDone(p) {
				p = part.Partition(r, partitions)
			}
		}
		open[p] = append(open[p], value)
	}

	for i := range 7 {
		add("", fmt.Sprint("v", i))
	}
	add("foobar", "keyed")
	fmt.Println("open:", open)
	fmt.Println("foobar goes to", partition.ForKey([]byte("foobar"), partitions))
	// Output:
	// partition 0: batch [v0 v1 v2]
	// partition 2: batch [v3 v4 v5]
	// open: [[] [] [keyed] [v6]]
	// foobar goes to 2
}
