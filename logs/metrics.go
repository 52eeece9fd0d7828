package logs

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the writer's Prometheus series.
type metrics struct {
	records  prometheus.Counter
	batches  prometheus.Counter
	failures prometheus.Counter
	fsync    prometheus.Histogram
	healthy  prometheus.Gauge
	reg      prometheus.Registerer
	all      []prometheus.Collector
}

// newMetrics builds the writer's series and registers them on reg unless
// reg is nil. queueLen reports the records waiting in the queue.
func newMetrics(reg prometheus.Registerer, queueLen func() float64) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_logs_records_total",
			Help: "Usage records written and fsynced.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_logs_batches_total",
			Help: "Group commits: one write and one fsync each.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_logs_write_failures_total",
			Help: "Failed attempts to write, fsync or checkpoint the usage log.",
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "smgate_logs_commit_seconds",
			Help:    "Time to write and fsync one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
		healthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smgate_logs_healthy",
			Help: "1 when the usage log can be written, 0 while social traffic is blocked for it.",
		}),
		reg: reg,
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "smgate_logs_queued_records",
		Help: "Usage records waiting to be written: in the writer's queue or, while the log cannot be written, kept for the retry.",
	}, queueLen)
	m.healthy.Set(1)
	m.all = []prometheus.Collector{m.records, m.batches, m.failures, m.fsync, m.healthy, queue}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.all {
		if err := reg.Register(c); err != nil {
			for _, done := range m.all[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register log metrics: %w", err)
		}
	}
	return m, nil
}

// unregister removes the series, so that a writer opened again on the
// same registerer can register them.
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.all {
		m.reg.Unregister(c)
	}
}
