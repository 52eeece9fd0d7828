package logs

// The hash chain that makes the usage log tamper-evident.
//
// Let key be the HMAC key (the trimmed contents of logs.hmac_key_file, or
// empty) and
//
//	H(x) = SHA-256(x)                 when key is empty
//	H(x) = HMAC-SHA-256(key, x)       otherwise
//
// Let body_i be the line of record i as stored, without the chain field:
// AppendRecord(record_i), the canonical JSON object of the record, for
// every line this version writes (earlier versions wrote @timestamp with
// fewer fractional digits; a verifier hashes the bytes as stored). Records are numbered across all day files in
// date order, then line order. Then
//
//	c_0 = 32 zero bytes               (genesis)
//	c_i = H(c_{i-1} || body_i)        (c_{i-1} as 32 raw bytes)
//
// and line i of the log is body_i with `,"smgate.chain":"<hex c_i>"`
// inserted before its closing brace (`{"smgate.chain":"<hex c_i>"}` when
// body_i is `{}`), followed by "\n". The hex is lower case, 64 digits, and
// the chain field is always last, so a reader recovers body_i exactly by
// cutting the chain field off.
//
// So the first line of a day file chains from the last line of the day file
// before it: deleting a whole day shows as a break at the first line of the
// next day. Prune records, in the anchor file, both ends of each deleted
// run of days: the c its first record chained from and the c of its last
// line, sealed as H(tag || first day || last day || both values), so that
// the kept files still verify and the end of a kept file before the run
// is still linked to what followed it (see Anchor). The chain head (file,
// line count, c) is also checkpointed in the state directory, so that a
// cut tail, a deleted current file or a chain recomputed without the key
// is detected too.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// Sum is one chain value.
type Sum [sha256.Size]byte

// String returns s as 64 lower-case hex digits.
func (s Sum) String() string { return hex.EncodeToString(s[:]) }

// parseSum reads 64 lower-case hex digits, the only spelling written.
func parseSum(b []byte) (Sum, bool) {
	var s Sum
	if len(b) != 2*len(s) || bytes.ContainsAny(b, "ABCDEF") {
		return s, false
	}
	if _, err := hex.Decode(s[:], b); err != nil {
		return s, false
	}
	return s, true
}

// genesis is c_0, the value the first record ever chains from.
var genesis Sum

const chainPrefix = `"` + KeyChain + `":"`

var closeBrace = []byte{'}'}

// chain computes successive chain values. It is not safe for concurrent
// use.
type chain struct {
	h    hash.Hash
	head Sum
}

func newChain(key []byte, head Sum) *chain {
	h := sha256.New()
	if len(key) > 0 {
		h = hmac.New(sha256.New, key)
	}
	return &chain{h: h, head: head}
}

// next returns H(head || parts...) and makes it the head.
func (c *chain) next(parts ...[]byte) Sum {
	c.h.Reset()
	c.h.Write(c.head[:])
	for _, p := range parts {
		c.h.Write(p)
	}
	c.h.Sum(c.head[:0])
	return c.head
}

// appendChain turns the body at the end of dst (it ends with '}') into a
// chained line: the chain field with sum before the brace, then "\n".
func appendChain(dst []byte, sum Sum) []byte {
	dst = dst[:len(dst)-1]
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, chainPrefix...)
	dst = hex.AppendEncode(dst, sum[:])
	return append(dst, '"', '}', '\n')
}

// splitChain splits a chained line (without its newline) into the body
// without its closing brace and the chain value: the body is head+"}".
func splitChain(line []byte) (head []byte, sum Sum, ok bool) {
	n := len(line)
	tail := len(chainPrefix) + 2*len(sum) + 2 // prefix, hex, `"}`
	if n < tail+1 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, sum, false
	}
	at := n - tail
	if !bytes.Equal(line[at:at+len(chainPrefix)], []byte(chainPrefix)) {
		return nil, sum, false
	}
	if sum, ok = parseSum(line[at+len(chainPrefix) : n-2]); !ok {
		return nil, sum, false
	}
	switch line[at-1] {
	case ',':
		return line[:at-1], sum, at-1 > 0 && line[0] == '{'
	case '{':
		return line[:at], sum, at == 1
	}
	return nil, sum, false
}

// linksFrom reports whether the chained line follows prev under c's key.
// It leaves c's head at the line's computed value.
func (c *chain) linksFrom(prev Sum, line []byte) bool {
	head, sum, ok := splitChain(line)
	if !ok {
		return false
	}
	c.head = prev
	return c.next(head, closeBrace) == sum
}
