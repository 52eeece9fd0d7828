package proxy

import (
	"encoding/base64"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// heapInUse returns the live heap after a garbage collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestUnknownUserFloodHoldsNoMemory: Basic credentials with long user
// names the directory does not have, from many addresses, leave nothing
// of those names in the failure budgets. Only the users that have a
// password (whose guesses cost bcrypt) get a budget of their own; before,
// every name tried did, kept with the whole credential it came in, and
// proxy.max_header_bytes let one name run to 48 KiB: 10,000 of them held
// about half a gigabyte.
func TestUnknownUserFloodHoldsNoMemory(t *testing.T) {
	e := newEnv(t, envConfig{})
	a, snap := newAuthenticator(1), e.srv.engine.Snapshot()
	const addrs, perAddr, nameLen = 50, failBurstIP, 32 << 10
	pad := strings.Repeat("n", nameLen)
	before := heapInUse()
	for i := range addrs {
		client := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		for j := range perAddr {
			h := "Basic " + base64.StdEncoding.EncodeToString([]byte(pad+strconv.Itoa(i*perAddr+j)+":x"))
			if _, res, _ := a.check(h, snap, client, testNow); res != authUnknownUser {
				t.Fatalf("attempt %d from %s: %v", j, client, res)
			}
		}
	}
	after := heapInUse()
	if grown := int64(after) - int64(before); grown > 4<<20 {
		t.Errorf("%d unknown names held %d KiB", addrs*perAddr, grown>>10)
	}
	if n := len(a.byUser.m); n != 0 {
		t.Errorf("failure budget kept for %d unknown names", n)
	}
	runtime.KeepAlive(a)
}

// TestFailLimiterKeepsOnlyTheKey: a key cut from a longer string (a user
// name from a whole credential with a long password) is kept on its own,
// not with the string it came in.
func TestFailLimiterKeepsOnlyTheKey(t *testing.T) {
	l := newFailLimiter(failBurstUser, failEveryUser, failKeys)
	const n, credLen = 1000, 32 << 10
	before := heapInUse()
	for i := range n {
		cred := "user" + strconv.Itoa(i) + ":" + strings.Repeat("p", credLen)
		user, _, _ := strings.Cut(cred, ":")
		l.take(user, testNow)
	}
	if grown := int64(heapInUse()) - int64(before); grown > 4<<20 {
		t.Errorf("%d short keys held %d KiB", n, grown>>10)
	}
	runtime.KeepAlive(l)
}

// TestLongUserNameLoggedShort: a failed sign-in is logged with the user
// name tried cut short, so that a client cannot write tens of kilobytes
// to the operational log with every request (a limited client's requests
// are logged too).
func TestLongUserNameLoggedShort(t *testing.T) {
	e := newEnv(t, envConfig{})
	const n = failBurstIP + 5
	for i := range n {
		name := strings.Repeat("\x01", 30<<10) + strconv.Itoa(i)
		resp, _, _, _ := e.raw("", e.request(wireCase{user: name, pass: "x", method: "GET", target: "http://facebook.com:{H}/"}))
		if resp.StatusCode != 403 && resp.StatusCode != 429 {
			t.Fatalf("attempt %d: got %d", i, resp.StatusCode)
		}
	}
	log := e.oplog.String()
	if lines := strings.Count(log, "proxy authentication failed"); lines != n {
		t.Fatalf("%d failed sign-ins logged, want %d", lines, n)
	}
	if len(log) > n*2048 {
		t.Errorf("%d failed sign-ins wrote %d KiB to the operational log", n, len(log)>>10)
	}
}
