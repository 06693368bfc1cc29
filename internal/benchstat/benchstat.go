// Package benchstat holds what Glossa's benchmarks report alike: the
// latency percentiles that the issues' targets are written in. It is
// imported only by benchmarks.
package benchstat

import (
	"slices"
	"testing"
	"time"
)

// ReportLatency reports the median and the 99th percentile of lat, in
// milliseconds, as the metrics p50-ms and p99-ms. It sorts lat.
func ReportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
