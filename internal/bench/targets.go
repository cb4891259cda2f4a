package bench

// target is a figure spool's workloads aim for on a machine like the CI's
// (2 cores, an SSD), from issue 6. Beating every peer is a target too; the
// comparison table shows that one.
type target struct {
	workload string
	want     string
	met      func(Result) bool
}

func targets() []target {
	latencyTarget := func(r Result) bool { return r.P50Ns < 20e3 && r.P99Ns < 1e6 }
	return []target{
		{"produce-100B-async", ">= 3 M records/s", func(r Result) bool { return r.RecordsPerSec >= 3e6 }},
		{"produce-1KiB-async", ">= 70% of sequential write bandwidth", func(r Result) bool { return r.OfLimit >= 0.7 }},
		{"produce-100B-sync-64p-inflight", ">= 1 M records/s, p99 ack < 2 ms",
			func(r Result) bool { return r.RecordsPerSec >= 1e6 && r.P99Ns < 2e6 }},
		{"produce-100B-sync-64p-wait", ">= 150 k records/s", func(r Result) bool { return r.RecordsPerSec >= 150e3 }},
		{"consume-100B", ">= 10 M records/s", func(r Result) bool { return r.RecordsPerSec >= 10e6 }},
		{"latency", "p50 < 20 µs, p99 < 1 ms", latencyTarget},
		{"latency-idle", "p50 < 20 µs, p99 < 1 ms", latencyTarget},
		{"recovery", "< 200 ms for a 10 GiB file", func(r Result) bool { return r.Seconds < 0.2 }},
	}
}
