//go:build !linux

package proxy

import (
	"net"
	"syscall"
)

// rawReader reads with src.Read, holding its buffer while the read waits.
type rawReader struct{ src net.Conn }

func newRawReader(src net.Conn, _ syscall.RawConn) *rawReader { return &rawReader{src: src} }

func (r *rawReader) read() (*[]byte, int, error) {
	bp := copyBufs.Get().(*[]byte)
	m, err := r.src.Read(*bp)
	if m > 0 {
		return bp, m, nil // an error comes again with the next read
	}
	copyBufs.Put(bp)
	return nil, 0, err
}
