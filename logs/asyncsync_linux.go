package logs

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// asyncSync fsyncs a file through Linux AIO (IOCB_CMD_FSYNC, run by a
// kernel worker) and waits for it on an eventfd through the runtime's
// network poller, so that the writer goroutine gives up its P while the
// disk works. A plain fsync is a blocking system call that keeps the P
// until the runtime's monitor notices, which on one CPU with one P stalled
// every connection of the gateway for the length of each fsync.
type asyncSync struct {
	ctx uintptr
	ev  *os.File // the eventfd, non-blocking, in the poller
}

// iocb is struct iocb of linux/aio_abi.h (little-endian layout).
type iocb struct {
	data     uint64
	key      uint32
	rwFlags  uint32
	opcode   uint16
	reqprio  int16
	fildes   uint32
	buf      uint64
	nbytes   uint64
	offset   int64
	reserved uint64
	flags    uint32
	resfd    uint32
}

type ioEvent struct {
	data, obj uint64
	res, res2 int64
}

const (
	iocbCmdFsync  = 2
	iocbFlagResfd = 1
)

// newAsyncSync returns nil when the kernel cannot do it.
func newAsyncSync() *asyncSync {
	if isBigEndian() {
		return nil
	}
	var ctx uintptr
	if _, _, e := syscall.Syscall(syscall.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		return nil
	}
	fd, _, e := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		syscall.Syscall(syscall.SYS_IO_DESTROY, ctx, 0, 0)
		return nil
	}
	return &asyncSync{ctx: ctx, ev: os.NewFile(fd, "usage-log-fsync-eventfd")}
}

func isBigEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}

// errAsyncUnsupported says the file cannot be fsynced this way; the
// caller falls back to f.Sync.
var errAsyncUnsupported = errors.New("asynchronous fsync not supported")

// sync fsyncs f and waits for it without holding a P.
func (a *asyncSync) sync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return errAsyncUnsupported
	}
	cb := &iocb{opcode: iocbCmdFsync, flags: iocbFlagResfd}
	var serr syscall.Errno
	err = rc.Control(func(fd uintptr) {
		cb.fildes = uint32(fd)
		cb.resfd = uint32(a.ev.Fd())
		p := uintptr(unsafe.Pointer(cb))
		_, _, serr = syscall.Syscall(syscall.SYS_IO_SUBMIT, a.ctx, 1, uintptr(unsafe.Pointer(&p)))
	})
	runtime.KeepAlive(cb)
	if err != nil || serr != 0 {
		return errAsyncUnsupported
	}
	var cnt [8]byte
	for {
		if _, err := a.ev.Read(cnt[:]); err != nil {
			return fmt.Errorf("wait for fsync: %w", err)
		}
		var ev ioEvent
		n, _, e := syscall.Syscall6(syscall.SYS_IO_GETEVENTS, a.ctx, 0, 1,
			uintptr(unsafe.Pointer(&ev)), 0, 0)
		if e != 0 {
			return fmt.Errorf("wait for fsync: %w", e)
		}
		if n == 1 {
			if ev.res < 0 {
				return syscall.Errno(-ev.res)
			}
			return nil
		}
	}
}

func (a *asyncSync) close() {
	syscall.Syscall(syscall.SYS_IO_DESTROY, a.ctx, 0, 0)
	_ = a.ev.Close()
}
