package main

import (
	"os"
	"runtime"
)

// minProcs is the least GOMAXPROCS the gateway runs with. On one CPU (a
// small VM, or a process pinned to one core) Go would run with one P, and
// every fsync of the usage log or blocking read would hold it until the
// runtime's monitor hands it off, stalling every other connection; a
// second P lets request handling go on meanwhile (measured with the
// benchmark lab, one run on a loaded machine: new tunnels/s 0.19 -> 0.41
// of direct on one pinned core).
const minProcs = 2

func init() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
}
