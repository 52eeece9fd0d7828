package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The gateway runs with Go's own GOMAXPROCS (the CPUs it may use). It
// used to keep at least two Ps, because on one CPU a blocking fsync of the
// usage log held the only P; the usage-log writer now waits for its fsync
// in the network poller (logs/asyncsync_linux.go), and two Ps on one CPU
// were the cause of the tail latency: the kernel time-slices the two
// threads, and goroutines queued on the P of the thread it has set aside
// wait for its turn. Benchmark lab, quiet machine, server pinned to one
// CPU, same run side by side (2 x 2 s per figure), asynchronous fsync with
// one P against the previous binary with two: HTTP c=16 p99 2.6/2.8 ms
// against 10.4/9.1 (direct 1.0/1.2) at 18.2k/17.5k req/s against
// 13.9k/18.6k (squid 13.0k/13.9k); c=128 p99 18.4/21.7 against 32.9/39.0
// at 14.4k/12.5k req/s against 10.3k/12.1k; new TCP tunnels 4.5k/5.2k/s
// against 4.2k/5.7k, p99 7.3/7.5 ms against 12.3/11.6. (One P with the
// blocking fsync had new TCP tunnels at 3.2k/2.2k/s.)

// serveGCPercent is the GOGC `smgate serve` runs with unless GOGC is set.
// The gateway's live heap is small (about 40 MiB peak RSS in the lab) while
// every social-media request allocates about 180 objects, so at the
// default 100 the collector ran several times a second on the one CPU.
// Benchmark lab, quiet machine, server pinned to one CPU, this binary
// against the previous one side by side in one run (2 x 2 s per figure):
// HTTP c=16 17.9k/18.8k req/s against 13.9k/15.6k, c=128 13.4k/16.2k
// against 12.7k/16.0k, new TCP tunnels 5.3k/5.0k/s against 5.1k/4.7k; two
// earlier runs with GOGC=400 in the environment agreed. It does not change
// the p99 (about 10 ms at c=16): that comes from two Ps sharing one CPU
// (see above). A GOMEMLIMIT in the environment still bounds the heap.
const serveGCPercent = 400

func init() {
	if len(os.Args) > 1 && os.Args[1] == "serve" && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
		tuneGCEnabled = true
	}
}

// tuneGCEnabled: serve chose the GOGC itself (none in the environment), so
// tuneGC adjusts it.
var tuneGCEnabled bool

// gcHeadroom bounds what serveGCPercent lets garbage take beyond the live
// heap. With a large live heap (a DNS cache of 100,000 answers is about
// 60 MiB live) GOGC=400 would let the heap grow to five times it: 362 MiB
// peak RSS in the lab's uncached load with the default dns.cache_size, so
// memory followed the cache size four times over. Past 16 MiB live the
// percentage comes down, to Go's default 100 from 64 MiB live.
const gcHeadroom = 64 << 20

// gcPercentFor returns the GOGC for a live heap of live bytes:
// serveGCPercent while that leaves at most gcHeadroom of garbage, then
// what does, never under 100.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return serveGCPercent
	}
	return int(min(max(100*gcHeadroom/live, 100), serveGCPercent))
}

// tuneGC sets GOGC to gcPercentFor(the live heap) every interval until
// ctx ends; it changes it only when it moves by more than a tenth, since
// a change stops the world for a moment.
func tuneGC(ctx context.Context, interval time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	cur := serveGCPercent
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if p := gcPercentFor(sample[0].Value.Uint64()); p*10 < cur*9 || p*10 > cur*11 {
			debug.SetGCPercent(p)
			cur = p
		}
	}
}
