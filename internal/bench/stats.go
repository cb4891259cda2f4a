package bench

import (
	"slices"
	"time"
)

// median returns the median of xs (the mean of the middle two when even),
// or 0 when there are none. The machine is shared and noisy; the median of
// several repetitions ignores the odd run that something else slowed down.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread is (max - min) / median of xs: how far the repetitions disagree.
func spread(xs []float64) float64 {
	m := median(xs)
	if len(xs) < 2 || m == 0 {
		return 0
	}
	return (slices.Max(xs) - slices.Min(xs)) / m
}

// latencies collects durations and answers percentiles.
type latencies []time.Duration

// percentile returns the q-quantile (0 < q <= 1): the smallest sample that at
// least q of the samples do not exceed. It sorts l.
func (l latencies) percentile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	i := int(q*float64(len(l))+0.999999) - 1
	return l[min(max(i, 0), len(l)-1)]
}
