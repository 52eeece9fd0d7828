package logs

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := newMetrics(reg, func() float64 { return 0 }); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestMetricsReopen(t *testing.T) {
	l := newTestLog(t)
	reg := prometheus.NewRegistry()
	w := l.open(t, func(o *Options) { o.Registerer = reg })
	if _, err := Open(Options{Dir: l.dir + "2", StateDir: l.state + "2", Registerer: reg}); err == nil {
		t.Error("second writer registered the same metrics")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l.open(t, func(o *Options) { o.Registerer = reg })
}
