//go:build !linux

package logs

import (
	"errors"
	"os"
)

type asyncSync struct{}

var errAsyncUnsupported = errors.New("asynchronous fsync not supported")

func newAsyncSync() *asyncSync             { return nil }
func (a *asyncSync) sync(f *os.File) error { return errAsyncUnsupported }
func (a *asyncSync) close()                {}
