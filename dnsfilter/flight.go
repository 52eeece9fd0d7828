package dnsfilter

import "sync"

// flights collapses concurrent misses of one key into one upstream query:
// the first caller fetches, the others wait for its entry.
type flights struct {
	mu sync.Mutex
	m  map[cacheKey]*flight
}

type flight struct {
	done    chan struct{}
	e       *entry
	err     error
	waiters int // callers beyond the first, for tests and metrics
}

// do returns fetch's result for k, calling fetch once for all callers that
// arrive while it runs.
func (f *flights) do(k cacheKey, fetch func() (*entry, error)) (*entry, error) {
	f.mu.Lock()
	if f.m == nil {
		f.m = make(map[cacheKey]*flight)
	}
	if fl := f.m[k]; fl != nil {
		fl.waiters++
		f.mu.Unlock()
		<-fl.done
		return fl.e, fl.err
	}
	fl := &flight{done: make(chan struct{})}
	f.m[k] = fl
	f.mu.Unlock()

	defer func() {
		f.mu.Lock()
		delete(f.m, k)
		f.mu.Unlock()
		close(fl.done)
	}()
	fl.e, fl.err = fetch()
	return fl.e, fl.err
}

// waiting returns how many callers wait for the flight of k.
func (f *flights) waiting(k cacheKey) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.m[k]; fl != nil {
		return fl.waiters
	}
	return 0
}
