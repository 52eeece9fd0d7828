package proxy

import (
	"net"

	"golang.org/x/sys/unix"
)

// unsentLimit is the most a tunnel's socket queues that TCP has not
// sent yet (TCP_NOTSENT_LOWAT); past it the copy's write waits. Without
// it a socket takes up to its whole send buffer (megabytes once
// autotuned), so a download through a tunnel whose client reads slower
// than the destination sends is parked in the kernel, and TCP sends it
// on from the client's acknowledgements, on the client's time. With it
// the copy waits instead, the rest waits in the destination's socket,
// and each hop is sent from the proxy's own reads and writes. In the
// benchmark lab (client and origin on one core, the proxy on the other)
// a 10 MB TLS download through a tunnel ran at 0.79-0.88 of direct
// without it and 1.01-1.04 with it (three rounds each, side by side;
// 16 KiB to 128 KiB alike, 512 KiB began to fall back). A tunnel to a
// slow client also holds at most this much in the kernel.
//
// Only tunnels have it: requests the proxy forwards itself spend the
// proxy's own CPU on each byte, and sending from its writes too made a
// plain-HTTP 10 MB download slower when the proxy's core was the bound.
const unsentLimit = 128 << 10

// limitUnsent sets unsentLimit on c's socket. It is tuning: an error
// leaves the socket as it was.
func limitUnsent(c net.Conn) {
	if rc := rawConnOf(c); rc != nil {
		_ = rc.Control(setUnsentLimit)
	}
}

func setUnsentLimit(fd uintptr) {
	_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, unsentLimit)
}
