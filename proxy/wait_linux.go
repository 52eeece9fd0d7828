package proxy

import "syscall"

// readableFunc returns the function waitReadable gives rc.Read: it peeks
// at one byte, so that the poller waits while there is none; made once
// per copy, not per wait.
func readableFunc() func(fd uintptr) bool {
	var b [1]byte
	return func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	}
}

// waitReadable returns once rc has bytes to read, its end of stream or an
// error, without reading them (f is from readableFunc). It returns rc's
// error when the connection is closed meanwhile.
func waitReadable(rc syscall.RawConn, f func(fd uintptr) bool) error {
	return rc.Read(f)
}
