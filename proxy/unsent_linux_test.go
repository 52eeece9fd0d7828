package proxy

import (
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTunnelLimitsUnsentBytes: both sockets of a tunnel, the client's and
// the destination's, bound the bytes they queue unsent to unsentLimit
// (see unsent_linux.go) by the time the client has the CONNECT answer.
func TestTunnelLimitsUnsentBytes(t *testing.T) {
	e := newEnv(t, envConfig{})
	connect := e.request(wireCase{user: "bjones", pass: "hunter2", method: "CONNECT", target: "facebook.com:{H}"})
	resp, body, conn, _ := e.raw("", connect)
	if resp.StatusCode != 200 || conn == nil {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	defer conn.Close()
	client := socketWithPeer(t, conn.LocalAddr().String())
	up := socketWithPeer(t, e.origin.addr)
	for name, fd := range map[string]int{"client": client, "destination": up} {
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
		if err != nil || v != unsentLimit {
			t.Errorf("the tunnel's %s socket: TCP_NOTSENT_LOWAT %d (%v), want %d", name, v, err, unsentLimit)
		}
	}
}

// socketWithPeer returns the descriptor of this process's one socket
// connected to peer (host:port).
func socketWithPeer(t *testing.T, peer string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	found := -1
	for _, ent := range ents {
		fd, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		sa, err := syscall.Getpeername(fd)
		if err != nil {
			continue
		}
		if in4, ok := sa.(*syscall.SockaddrInet4); ok {
			ap := net.JoinHostPort(net.IP(in4.Addr[:]).String(), strconv.Itoa(in4.Port))
			if ap == peer {
				if found >= 0 {
					t.Fatalf("two sockets connected to %s", peer)
				}
				found = fd
			}
		}
	}
	if found < 0 {
		t.Fatalf("no socket connected to %s", peer)
	}
	return found
}
