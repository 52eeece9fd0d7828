package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawReader reads a tunnel's source straight into a pooled buffer, taking
// the buffer only for the read itself: when the socket has nothing, the
// buffer goes back to the pool before the poller waits, so an idle tunnel
// holds none.
type rawReader struct {
	rc  syscall.RawConn
	bp  *[]byte // the buffer of the read under way, nil while waiting
	m   int
	err error
	f   func(fd uintptr) bool // made once per tunnel, not per read
}

func newRawReader(_ net.Conn, rc syscall.RawConn) *rawReader {
	r := &rawReader{rc: rc}
	r.f = func(fd uintptr) bool {
		if r.bp == nil {
			r.bp = copyBufs.Get().(*[]byte)
		}
		for {
			m, err := syscall.Read(int(fd), *r.bp)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				copyBufs.Put(r.bp)
				r.bp = nil
				return false // the poller waits, then calls f again
			}
			r.m, r.err = m, err
			return true
		}
	}
	return r
}

// read returns a pooled buffer holding the next m > 0 bytes of the
// source, or its end of stream (io.EOF) or error. The caller puts the
// buffer back.
func (r *rawReader) read() (*[]byte, int, error) {
	err := r.rc.Read(r.f)
	bp := r.bp
	r.bp = nil
	switch {
	case err != nil:
	case r.err != nil:
		err = os.NewSyscallError("read", r.err)
	case r.m <= 0:
		err = io.EOF
	default:
		return bp, r.m, nil
	}
	if bp != nil {
		copyBufs.Put(bp)
	}
	return nil, 0, err
}
