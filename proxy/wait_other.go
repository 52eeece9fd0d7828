//go:build !linux

package proxy

import "syscall"

func readableFunc() func(fd uintptr) bool { return nil }

// waitReadable returns at once: the read that follows waits instead,
// holding its buffer.
func waitReadable(syscall.RawConn, func(fd uintptr) bool) error { return nil }
