package main

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smgate/smgate/allowlist"
)

// Label values of smgate_reloads_total.
const (
	reloadSuccess = "success"
	reloadFailure = "failure"
)

// suspensionScopes are the label values of smgate_suspensions, always all
// exported so that a dashboard sees 0 rather than no series.
var suspensionScopes = []allowlist.Scope{allowlist.ScopeAgency, allowlist.ScopePlatform, allowlist.ScopeAccount}

// policyCollector exports the state of the policy engine at scrape time,
// so that every reload (SIGHUP, API, file watcher) and every suspension
// is counted whoever triggered it.
type policyCollector struct {
	engine    *allowlist.Engine
	successes atomic.Uint64 // reloads that swapped in new policy files

	reloads, generation, lastGood, suspensions *prometheus.Desc
}

// newPolicyCollector returns the collector of e and starts counting its
// successful reloads.
func newPolicyCollector(e *allowlist.Engine) *policyCollector {
	c := &policyCollector{
		engine: e,
		reloads: prometheus.NewDesc("smgate_reloads_total",
			"Policy reloads by result; a failure keeps the last good policy.", []string{"result"}, nil),
		generation: prometheus.NewDesc("smgate_policy_generation",
			"Generation of the policy snapshot in force; it changes on every reload and suspension change.", nil, nil),
		lastGood: prometheus.NewDesc("smgate_policy_last_reload_success_timestamp_seconds",
			"When the policy in force was loaded (start or last successful reload), in Unix seconds.", nil, nil),
		suspensions: prometheus.NewDesc("smgate_suspensions",
			"Suspensions in force by scope (agency, platform, account).", []string{"scope"}, nil),
	}
	prev := e.Snapshot().Policy()
	// Swaps are serialised by the engine; a suspension keeps the policy
	// files of the snapshot it replaces, a reload brings new ones.
	e.OnSwap(func(s *allowlist.Snapshot) {
		if p := s.Policy(); p != prev {
			prev = p
			c.successes.Add(1)
		}
	})
	return c
}

// Describe implements prometheus.Collector.
func (c *policyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reloads
	ch <- c.generation
	ch <- c.lastGood
	ch <- c.suspensions
}

// Collect implements prometheus.Collector.
func (c *policyCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.engine.Status()
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(c.successes.Load()), reloadSuccess)
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(st.Failures), reloadFailure)
	ch <- prometheus.MustNewConstMetric(c.generation, prometheus.GaugeValue, float64(st.Generation))
	ch <- prometheus.MustNewConstMetric(c.lastGood, prometheus.GaugeValue, float64(st.LoadedAt.UnixNano())/1e9)
	n := map[allowlist.Scope]int{}
	for _, s := range c.engine.Suspensions() {
		n[s.Scope]++
	}
	for _, sc := range suspensionScopes {
		ch <- prometheus.MustNewConstMetric(c.suspensions, prometheus.GaugeValue, float64(n[sc]), string(sc))
	}
}

// newAdminMetrics registers smgate_admin_requests_total on reg. Its route
// label is the route pattern (or "other"), never the path.
func newAdminMetrics(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smgate_admin_requests_total",
		Help: "Admin listener requests by route pattern and status code.",
	}, []string{"route", "code"})
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("register admin metrics: %w", err)
	}
	return c, nil
}
