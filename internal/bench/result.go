package bench

import (
	"reflect"
	"time"
)

// Figures are what one repetition of a workload measured. A zero figure was
// not measured.
type Figures struct {
	RecordsPerSec float64 `json:"records_per_sec,omitempty"`
	// BytesPerSec counts record values only, the same for every system.
	BytesPerSec float64 `json:"bytes_per_sec,omitempty"`
	// P50Ns, P99Ns and P999Ns are latencies in nanoseconds: of an
	// acknowledgement (produce), of a record from producer to consumer
	// (latency).
	P50Ns  float64 `json:"p50_ns,omitempty"`
	P99Ns  float64 `json:"p99_ns,omitempty"`
	P999Ns float64 `json:"p999_ns,omitempty"`
	// RecordsPerSync is how many records one sync made durable.
	RecordsPerSync float64 `json:"records_per_sync,omitempty"`
	// Seconds is the time of something done once (opening a file).
	Seconds float64 `json:"seconds,omitempty"`
	// FileBytes is the size of the file opened.
	FileBytes float64 `json:"file_bytes,omitempty"`
}

// Result is one workload on one system: the median of each figure over the
// repetitions.
type Result struct {
	System   string `json:"system"`
	Mode     string `json:"mode,omitempty"` // the system's durability setting
	Workload string `json:"workload"`
	Figures
	// Limit names the machine limit OfLimit is a fraction of.
	Limit   string  `json:"limit,omitempty"`
	OfLimit float64 `json:"of_limit,omitempty"`
	// Reps holds the primary figure of each repetition and Spread their
	// (max - min) / median: the noise.
	Reps   []float64 `json:"reps,omitempty"`
	Spread float64   `json:"spread,omitempty"`
	// Skipped says why there are no figures.
	Skipped string `json:"skipped,omitempty"`
	Note    string `json:"note,omitempty"`
}

// medianFigures returns the median of each figure over reps.
func medianFigures(reps []Figures) Figures {
	var out Figures
	o := reflect.ValueOf(&out).Elem()
	for i := range o.NumField() {
		xs := make([]float64, len(reps))
		for j, r := range reps {
			xs[j] = reflect.ValueOf(r).Field(i).Float()
		}
		o.Field(i).SetFloat(median(xs))
	}
	return out
}

// setLatencies fills in the percentiles of l.
func (f *Figures) setLatencies(l latencies) {
	f.P50Ns = float64(l.percentile(0.50))
	f.P99Ns = float64(l.percentile(0.99))
	f.P999Ns = float64(l.percentile(0.999))
}

// setThroughput fills in the rates of records of size bytes done in elapsed.
func (f *Figures) setThroughput(records int64, size int, elapsed time.Duration) {
	f.RecordsPerSec = float64(records) / elapsed.Seconds()
	f.BytesPerSec = f.RecordsPerSec * float64(size)
}
