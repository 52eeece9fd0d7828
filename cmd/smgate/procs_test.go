package main

import "testing"

// TestGCPercentFor: GOGC=400 while the garbage it allows stays under
// gcHeadroom, then less, never under Go's default.
func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, serveGCPercent},
		{4 * mib, serveGCPercent},
		{16 * mib, serveGCPercent},
		{32 * mib, 200},
		{64 * mib, 100},
		{1024 * mib, 100},
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live/mib, got, c.want)
		}
	}
}
