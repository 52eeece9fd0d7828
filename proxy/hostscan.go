package proxy

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
)

// hostScanner follows the HTTP/1.1 framing of the bytes a client
// connection sends, as net/http reads them, and keeps for each request its
// method, request target and Host header. net/http drops the Host header
// of an absolute-form request before the handler sees it; the proxy uses
// the scanner's copy only to log a Host header that disagrees with the URI
// it decided on, never to decide. When the framing cannot be followed (a
// protocol upgrade, a CONNECT that became a tunnel, an oversized line, a
// malformed length) the scanner stops and reports nothing more.
type hostScanner struct {
	mu    sync.Mutex
	state scanState
	line  []byte
	left  int64 // body or chunk bytes still to skip
	cur   scannedHead
	queue []scannedHead
}

// scannedHead is what the scanner kept of one request header.
type scannedHead struct {
	method, target string
	host           string
	hasHost        bool
	first          bool // request line read
	chunked        bool
	length         int64
	upgrade        bool
	fold           foldKind // what an obs-fold line would continue
}

// foldKind is the header field that an obs-fold line (one starting with a
// space or a tab) continues: net/http joins it to that field's value.
type foldKind uint8

const (
	foldNone    foldKind = iota
	foldHost             // the Host header: its value goes on
	foldFraming          // Content-Length or Transfer-Encoding: not followed
)

type scanState uint8

const (
	scanHead       scanState = iota // reading a request line or header line
	scanBody                        // skipping a fixed-length body
	scanChunkSize                   // reading a chunk-size line
	scanChunkData                   // skipping chunk data and its CRLF
	scanTrailer                     // reading trailer lines
	scanPaused                      // after a CONNECT, until resumed
	scanLost                        // framing not followed any more
	maxScanLine    = 16 << 10
	keptScanLine   = 512 // a longer line's buffer is dropped once the line is read
	maxScanQueue   = 64
	chunkDataExtra = 2 // the CRLF after chunk data
)

// feed scans bytes read from the connection.
func (s *hostScanner) feed(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(p) > 0 && s.state != scanLost {
		switch s.state {
		case scanBody, scanChunkData:
			n := min(int64(len(p)), s.left)
			p, s.left = p[n:], s.left-n
			if s.left == 0 && s.state == scanBody {
				s.state = scanHead
			} else if s.left == 0 {
				s.state = scanChunkSize
			}
		case scanPaused:
			s.state = scanLost // bytes before the CONNECT was answered
		default:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				s.appendLine(p)
				return
			}
			if len(s.line) == 0 && i <= maxScanLine { // the whole line is in p: no copy
				s.endLine(p[:i])
				p = p[i+1:]
				continue
			}
			s.appendLine(p[:i])
			p = p[i+1:]
			if s.state != scanLost {
				s.endLine(s.line)
			}
			s.line = s.line[:0]
			if cap(s.line) > keptScanLine {
				s.line = nil // not kept for the connection's life
			}
		}
	}
}

func (s *hostScanner) appendLine(p []byte) {
	if len(s.line)+len(p) > maxScanLine {
		s.state, s.line = scanLost, nil
		return
	}
	s.line = append(s.line, p...)
}

// endLine handles one complete line (without its LF) in a line state.
func (s *hostScanner) endLine(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	switch s.state {
	case scanHead:
		s.headLine(line)
	case scanChunkSize:
		size := line
		if i := bytes.IndexByte(size, ';'); i >= 0 {
			size = size[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		switch {
		case err != nil || n < 0:
			s.state = scanLost
		case n == 0:
			s.state = scanTrailer
		default:
			s.state, s.left = scanChunkData, n+chunkDataExtra
		}
	case scanTrailer:
		if len(line) == 0 {
			s.state = scanHead
		}
	}
}

// headLine handles a request line, a header line or the blank line that
// ends a request header.
func (s *hostScanner) headLine(line []byte) {
	h := &s.cur
	switch {
	case !h.first && len(line) == 0: // blank lines before a request are allowed
	case !h.first:
		reqLine := string(line) // one allocation; method and target share it
		method, rest, ok1 := strings.Cut(reqLine, " ")
		target, _, ok2 := strings.Cut(rest, " ")
		if !ok1 || !ok2 {
			s.state = scanLost
			return
		}
		h.method, h.target, h.first = method, target, true
	case len(line) == 0:
		s.endHead()
	case line[0] == ' ' || line[0] == '\t':
		s.continued(line)
	default:
		s.headerField(line)
	}
}

// continued handles an obs-fold line, which net/http joins with one space
// to the value of the header field before it: a Host header hidden on such
// a line is still seen.
func (s *hostScanner) continued(line []byte) {
	h := &s.cur
	switch h.fold {
	case foldHost:
		h.host = strings.TrimSpace(h.host + " " + string(bytes.TrimSpace(line)))
	case foldFraming:
		s.state = scanLost
	}
}

func (s *hostScanner) headerField(line []byte) {
	h := &s.cur
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return // net/http refuses the request and closes the connection
	}
	value = bytes.TrimSpace(value)
	h.fold = foldNone
	switch {
	case bytes.EqualFold(name, []byte("Host")):
		h.host, h.hasHost, h.fold = string(value), true, foldHost
	case bytes.EqualFold(name, []byte("Content-Length")):
		h.fold = foldFraming
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 {
			s.state = scanLost
		}
		h.length = n
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		h.fold = foldFraming
		h.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
	case bytes.EqualFold(name, []byte("Upgrade")):
		h.upgrade = true
	}
}

// endHead queues the finished header and sets up its body.
func (s *hostScanner) endHead() {
	h := s.cur
	s.cur = scannedHead{}
	if len(s.queue) >= maxScanQueue {
		s.state = scanLost
		return
	}
	s.queue = append(s.queue, h)
	switch {
	case h.upgrade:
		s.state = scanLost
	case h.method == "CONNECT":
		s.state = scanPaused
	case h.chunked:
		s.state = scanChunkSize
	case h.length > 0:
		s.state, s.left = scanBody, h.length
	}
}

// take returns the header of the request with this method and target, the
// next in the connection's order; ok is false when the scanner lost the
// framing or the next header is another request.
func (s *hostScanner) take(method, target string) (scannedHead, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return scannedHead{}, false
	}
	h := s.queue[0]
	s.queue[0] = scannedHead{} // the array outlives the slice: keep no strings in it
	s.queue = s.queue[1:]
	if h.method != method || h.target != target {
		s.state, s.queue = scanLost, nil
		return scannedHead{}, false
	}
	return h, true
}

// resume follows the framing again after a CONNECT that was answered
// without becoming a tunnel.
func (s *hostScanner) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == scanPaused {
		s.state = scanHead
	}
}
