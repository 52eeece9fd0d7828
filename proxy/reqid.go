package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// idSource makes request ids: a random prefix drawn at start and a
// counter, so that ids are unique across restarts without a random read
// per request. The id is event.id in the usage log and is shown on the
// block page, so staff can quote it.
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func newIDSource() *idSource {
	var b [5]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return &idSource{prefix: hex.EncodeToString(b[:])}
}

// next returns a new id such as "3f9a0c7be1-1a2b".
func (s *idSource) next() string {
	var buf [32]byte
	b := append(buf[:0], s.prefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, s.n.Add(1), 36)
	return string(b)
}
