package main

import (
	"os"
	"runtime"
	"runtime/debug"
)

// minProcs is the least GOMAXPROCS the gateway runs with. On one CPU (a
// small VM, or a process pinned to one core) Go would run with one P, and
// every fsync of the usage log or blocking read would hold it until the
// runtime's monitor hands it off, stalling every other connection; a
// second P lets request handling go on meanwhile (measured with the
// benchmark lab, one run on a loaded machine: new tunnels/s 0.19 -> 0.41
// of direct on one pinned core).
const minProcs = 2

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
// (see minProcs). A GOMEMLIMIT in the environment still bounds the heap.
const serveGCPercent = 400

func init() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
	if len(os.Args) > 1 && os.Args[1] == "serve" && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}
