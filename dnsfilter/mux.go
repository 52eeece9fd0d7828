package dnsfilter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"
)

// muxConn is one connected UDP socket to an upstream, shared by many
// queries: each gets a random free ID, and one reader hands every response
// to the query with its ID and question (anything else is dropped, as a
// spoofed or late answer).
type muxConn struct {
	conn *net.UDPConn

	mu      sync.Mutex
	waiting map[uint16]*waiter
	closed  bool
}

type waiter struct {
	question []byte      // the question section the answer must repeat
	ch       chan result // buffered, one result
}

type result struct {
	b   []byte
	err error
}

func dialMux(addr *net.UDPAddr) (*muxConn, error) {
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return nil, err
	}
	c := &muxConn{conn: conn, waiting: make(map[uint16]*waiter)}
	go c.read()
	return c, nil
}

// exchange sends the packed query q with a fresh ID and waits for its
// answer until timeout.
func (c *muxConn) exchange(q, question []byte, timeout time.Duration) ([]byte, error) {
	w := &waiter{question: question, ch: make(chan result, 1)}
	id, err := c.register(w)
	if err != nil {
		return nil, err
	}
	pkt := make([]byte, len(q))
	copy(pkt, q)
	binary.BigEndian.PutUint16(pkt, id)
	if _, err := c.conn.Write(pkt); err != nil {
		c.unregister(id)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, errRefused
		}
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-w.ch:
		return r.b, r.err
	case <-t.C:
		c.unregister(id)
		return nil, errTimeout
	}
}

func (c *muxConn) register(w *waiter) (uint16, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errClosed
	}
	for range 64 {
		id := uint16(rand.Uint32())
		if _, busy := c.waiting[id]; !busy {
			c.waiting[id] = w
			return id, nil
		}
	}
	return 0, errors.New("upstream: no free query id")
}

func (c *muxConn) unregister(id uint16) {
	c.mu.Lock()
	delete(c.waiting, id)
	c.mu.Unlock()
}

// read hands answers to their waiters until the socket is closed.
func (c *muxConn) read() {
	buf := make([]byte, 65535)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				c.failAll(errRefused) // nothing listens: fail now, not at the timeout
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				c.failAll(errClosed)
				return
			}
			continue
		}
		c.deliver(buf[:n])
	}
}

func (c *muxConn) deliver(b []byte) {
	if len(b) < headerLen || b[2]&flagQR == 0 {
		return
	}
	id := binary.BigEndian.Uint16(b)
	c.mu.Lock()
	w := c.waiting[id]
	if w == nil || len(b) < headerLen+len(w.question) ||
		!bytes.Equal(b[headerLen:headerLen+len(w.question)], w.question) ||
		binary.BigEndian.Uint16(b[4:]) != 1 {
		c.mu.Unlock()
		return
	}
	delete(c.waiting, id)
	c.mu.Unlock()
	w.ch <- result{b: bytes.Clone(b)}
}

func (c *muxConn) failAll(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, w := range c.waiting {
		delete(c.waiting, id)
		w.ch <- result{err: err}
	}
}

func (c *muxConn) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.conn.Close()
}
