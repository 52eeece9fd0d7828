package proxy

import (
	"context"
	"sync"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// tracker holds the open flows that outlive a handler's view of them:
// CONNECT tunnels (net/http forgets hijacked connections) and social-media
// HTTP requests still streaming. Shutdown drains them, and every policy
// swap re-decides them, cutting those the new policy blocks.
type tracker struct {
	mu    sync.Mutex
	flows map[*flow]struct{}
	idle  chan struct{} // closed when flows becomes empty; nil while empty
}

func newTracker() *tracker { return &tracker{flows: map[*flow]struct{}{}} }

func (t *tracker) add(f *flow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.flows) == 0 {
		t.idle = make(chan struct{})
	}
	t.flows[f] = struct{}{}
}

func (t *tracker) done(f *flow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.flows[f]; !ok {
		return
	}
	delete(t.flows, f)
	if len(t.flows) == 0 {
		close(t.idle)
		t.idle = nil
	}
}

// list returns the open flows.
func (t *tracker) list() []*flow {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*flow, 0, len(t.flows))
	for f := range t.flows {
		out = append(out, f)
	}
	return out
}

// wait returns when no flow is open, or with ctx's error when ctx ends
// first.
func (t *tracker) wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		idle := t.idle
		t.mu.Unlock()
		if idle == nil {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// cutAll ends every open flow (shutdown past its deadline).
func (t *tracker) cutAll() {
	for _, f := range t.list() {
		f.cutFor("")
	}
}

// onSwap re-decides every open flow on the new policy and cuts the ones it
// blocks: a suspension closes the agency's live tunnels before Suspend
// returns, and the idle keep-alive connections whose last request it now
// blocks. A changed deny list also drops idle upstream connections.
func (s *Server) onSwap(snap *allowlist.Snapshot) {
	s.redecideOpen(snap, false)
	deny := snap.Config().Proxy.DenyDestinations
	s.denyMu.Lock()
	changed := !sameDeny(s.deny, deny)
	s.deny = deny
	s.denyMu.Unlock()
	if changed {
		s.tr.CloseIdleConnections()
	}
}

// redecideOpen re-decides every open flow and idle keep-alive connection
// on snap, now, and closes those it blocks. Without always, an idle
// connection already re-decided on snap is left alone.
func (s *Server) redecideOpen(snap *allowlist.Snapshot, always bool) {
	now := s.now()
	for _, f := range s.tracker.list() {
		for _, r := range f.requests() {
			r.Time = now
			if d := snap.Decide(&r); !d.Pass() {
				s.log.Info().Str(fieldID, f.id).Str(fieldReason, string(d.Reason)).Msg("closing open flow: policy now blocks it")
				f.cutFor(d.Reason)
				break
			}
		}
	}
	s.recheckIdleConns(snap, always)
}

// onMinute re-decides what is open at each minute of the clock: schedule
// windows open and close on the minute (HH:MM in the gateway's time zone)
// and approvals expire at midnight, so a tunnel granted until 17:00 is
// closed at 17:00, not when its client leaves. The clock of the timer is
// the wall clock; decisions use s.now.
func (s *Server) onMinute(stop <-chan struct{}) {
	for {
		now := time.Now()
		t := time.NewTimer(now.Truncate(time.Minute).Add(time.Minute + 50*time.Millisecond).Sub(now))
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
			s.redecideOpen(s.engine.Snapshot(), true)
		}
	}
}
