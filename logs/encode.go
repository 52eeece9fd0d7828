package logs

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON keys of a usage-log line, in the order AppendRecord writes them.
// KeyChain is always last.
const (
	KeyTimestamp = "@timestamp"
	KeyID        = "event.id"
	KeyAction    = "event.action"
	KeyOutcome   = "event.outcome"
	KeyReason    = "event.reason"
	KeyDuration  = "event.duration"
	KeyObserver  = "observer.name"
	KeyUser      = "user.name"
	KeyRoles     = "user.roles"
	KeyAgency    = "organization.id"
	KeySourceIP  = "source.ip"
	KeyDomain    = "url.domain"
	KeyPath      = "url.path"
	KeyMethod    = "http.request.method"
	KeyStatus    = "http.response.status_code"
	KeyDestIP    = "destination.ip"
	KeyDestPort  = "destination.port"
	KeyCountry   = "destination.geo.country_iso_code"
	KeyASN       = "destination.as.number"
	KeySrcBytes  = "source.bytes"
	KeyDestBytes = "destination.bytes"
	KeyPlatform  = "smgate.platform"
	KeyAccount   = "smgate.account"
	KeyRole      = "smgate.role"
	KeyMode      = "smgate.mode"
	KeyEnforced  = "smgate.enforced"
	KeyMessage   = "message"
	KeyBy        = "smgate.by"
	KeyTarget    = "smgate.target"
	KeyChain     = "smgate.chain"
	// timestampParse reads @timestamp as appendTimestamp writes it and as
	// earlier versions did (time.RFC3339Nano, without trailing zeros).
	timestampParse = time.RFC3339Nano
	hexDigits      = "0123456789abcdef"
	replacementStr = "\ufffd"
)

// appendTimestamp appends t in UTC as RFC 3339 with all nine digits of
// its fraction, so that every line's time has one width (a SIEM's fixed
// time format reads it; time.RFC3339Nano drops trailing zeros, and the
// fraction with them when it is zero). Lines of earlier versions have the
// short form: timestampParse reads both, and the chain hashes each line as
// written. It formats the seconds with time's RFC 3339 fast path and the
// fraction itself: a layout with a fixed fraction takes time's general
// formatter, a quarter slower over a whole record.
func appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst = t.AppendFormat(dst, time.RFC3339) // ends in 'Z'
	dst = append(dst[:len(dst)-1], ".000000000Z"...)
	ns := t.Nanosecond()
	for i := len(dst) - 2; ns > 0; i-- {
		dst[i] = byte('0' + ns%10)
		ns /= 10
	}
	return dst
}

// AppendRecord appends r to dst as one flat JSON object, keys in the order
// of the Key constants, zero values omitted, without the chain field and
// without a newline, and returns the extended slice. It does not allocate
// when dst has room. The output is the canonical form that the chain hashes:
// DecodeRecord of it and AppendRecord again give the same bytes. (Lines of
// versions that wrote @timestamp with fewer fractional digits do not
// re-encode to themselves: the chain hashes each line as stored.)
func AppendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, '{')
	n := len(dst)
	if !r.Time.IsZero() {
		dst = appendKey(dst, n, KeyTimestamp)
		dst = append(dst, '"')
		dst = appendTimestamp(dst, r.Time)
		dst = append(dst, '"')
	}
	dst = appendStr(dst, n, KeyID, r.ID)
	dst = appendStr(dst, n, KeyAction, r.Action)
	dst = appendStr(dst, n, KeyOutcome, r.Outcome)
	dst = appendStr(dst, n, KeyReason, r.Reason)
	dst = appendInt(dst, n, KeyDuration, int64(r.Duration))
	dst = appendStr(dst, n, KeyObserver, r.Observer)
	dst = appendStr(dst, n, KeyUser, r.User)
	dst = appendRoles(dst, n, r.Roles)
	dst = appendStr(dst, n, KeyAgency, r.Agency)
	dst = appendAddr(dst, n, KeySourceIP, r.SourceIP)
	dst = appendStr(dst, n, KeyDomain, r.Domain)
	dst = appendStr(dst, n, KeyPath, r.Path)
	dst = appendStr(dst, n, KeyMethod, r.Method)
	dst = appendInt(dst, n, KeyStatus, int64(r.Status))
	dst = appendAddr(dst, n, KeyDestIP, r.DestIP)
	dst = appendInt(dst, n, KeyDestPort, int64(r.DestPort))
	dst = appendStr(dst, n, KeyCountry, r.Country)
	dst = appendInt(dst, n, KeyASN, int64(r.ASN))
	dst = appendInt(dst, n, KeySrcBytes, r.SrcBytes)
	dst = appendInt(dst, n, KeyDestBytes, r.DestBytes)
	dst = appendStr(dst, n, KeyPlatform, r.Platform)
	dst = appendStr(dst, n, KeyAccount, r.Account)
	dst = appendStr(dst, n, KeyRole, r.Role)
	dst = appendStr(dst, n, KeyMode, r.Mode)
	if r.NotEnforced {
		dst = appendKey(dst, n, KeyEnforced)
		dst = append(dst, "false"...)
	}
	dst = appendStr(dst, n, KeyMessage, r.Message)
	dst = appendStr(dst, n, KeyBy, r.By)
	dst = appendStr(dst, n, KeyTarget, r.Target)
	return append(dst, '}')
}

// appendKey appends `"key":`, preceded by a comma unless the object that
// starts at start is still empty.
func appendKey(dst []byte, start int, key string) []byte {
	if len(dst) > start {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendStr(dst []byte, start int, key, v string) []byte {
	if v == "" {
		return dst
	}
	dst = appendKey(dst, start, key)
	return appendString(dst, v)
}

func appendInt(dst []byte, start int, key string, v int64) []byte {
	if v == 0 {
		return dst
	}
	dst = appendKey(dst, start, key)
	return strconv.AppendInt(dst, v, 10)
}

func appendAddr(dst []byte, start int, key string, a netip.Addr) []byte {
	if !a.IsValid() {
		return dst
	}
	dst = appendKey(dst, start, key)
	dst = append(dst, '"')
	if a.Zone() == "" {
		dst = a.AppendTo(dst)
		return append(dst, '"')
	}
	// A zone is free text; escape it like any string.
	dst = a.WithZone("").AppendTo(dst)
	dst = append(dst, '%')
	dst = appendEscaped(dst, a.Zone())
	return append(dst, '"')
}

func appendRoles(dst []byte, start int, roles []string) []byte {
	if len(roles) == 0 {
		return dst
	}
	dst = appendKey(dst, start, KeyRoles)
	dst = append(dst, '[')
	for i, s := range roles {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

// appendString appends s as a quoted JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends s JSON-escaped without quotes: quote, backslash and
// control characters are escaped, U+2028 and U+2029 too (they end lines in
// JavaScript), and each byte of invalid UTF-8 becomes U+FFFD.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedByte(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, replacementStr...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

func appendEscapedByte(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// maxDepth bounds the nesting of unknown values DecodeRecord skips.
const maxDepth = 64

// DecodeRecord parses one line written by AppendRecord or by the Writer
// (a trailing newline and the chain field are accepted and ignored). Keys
// may come in any order; unknown keys are skipped; null reads as the zero
// value; a repeated key keeps its last value. Invalid UTF-8 in strings reads
// as U+FFFD, so AppendRecord of the result is stable.
func DecodeRecord(line []byte) (Record, error) {
	var r Record
	d := decoder{b: line}
	if err := d.object(&r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// decoder is a small JSON scanner for one flat record object.
type decoder struct {
	b   []byte
	i   int
	buf []byte // scratch for keys and escaped strings
}

func (d *decoder) errf(format string, args ...any) error {
	return &DecodeError{Offset: d.i, Problem: fmt.Sprintf(format, args...)}
}

// DecodeError is a line DecodeRecord cannot read: the byte offset in the
// line and what is wrong there.
type DecodeError struct {
	Offset  int
	Problem string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode record: byte %d: %s", e.Offset, e.Problem)
}

func (d *decoder) object(r *Record) error {
	d.ws()
	if !d.eat('{') {
		return d.errf("want '{'")
	}
	d.ws()
	if !d.eat('}') {
		if err := d.members(r); err != nil {
			return err
		}
	}
	d.ws()
	if d.i != len(d.b) {
		return d.errf("unexpected data after object")
	}
	return nil
}

func (d *decoder) members(r *Record) error {
	for {
		d.ws()
		key, err := d.rawString()
		if err != nil {
			return err
		}
		d.ws()
		if !d.eat(':') {
			return d.errf("want ':'")
		}
		d.ws()
		if err := d.field(r, key); err != nil {
			return err
		}
		d.ws()
		if d.eat('}') {
			return nil
		}
		if !d.eat(',') {
			return d.errf("want ',' or '}'")
		}
	}
}

// field reads the value of key into r. key may alias d.buf, so it is
// compared before any other string is read.
func (d *decoder) field(r *Record, key []byte) error {
	switch string(key) {
	case KeyTimestamp:
		return d.timeVal(&r.Time)
	case KeyID:
		return d.str(&r.ID)
	case KeyAction:
		return d.str(&r.Action)
	case KeyOutcome:
		return d.str(&r.Outcome)
	case KeyReason:
		return d.str(&r.Reason)
	case KeyDuration:
		v, err := d.integer(64)
		r.Duration = time.Duration(v)
		return err
	case KeyObserver:
		return d.str(&r.Observer)
	case KeyUser:
		return d.str(&r.User)
	case KeyRoles:
		return d.strs(&r.Roles)
	case KeyAgency:
		return d.str(&r.Agency)
	case KeySourceIP:
		return d.addr(&r.SourceIP)
	}
	return d.field2(r, key)
}

func (d *decoder) field2(r *Record, key []byte) error {
	switch string(key) {
	case KeyDomain:
		return d.str(&r.Domain)
	case KeyPath:
		return d.str(&r.Path)
	case KeyMethod:
		return d.str(&r.Method)
	case KeyStatus:
		v, err := d.integer(64)
		r.Status = int(v)
		return err
	case KeyDestIP:
		return d.addr(&r.DestIP)
	case KeyDestPort:
		v, err := d.unsigned(16)
		r.DestPort = uint16(v)
		return err
	case KeyCountry:
		return d.str(&r.Country)
	case KeyASN:
		v, err := d.unsigned(32)
		r.ASN = uint32(v)
		return err
	case KeySrcBytes:
		v, err := d.integer(64)
		r.SrcBytes = v
		return err
	case KeyDestBytes:
		v, err := d.integer(64)
		r.DestBytes = v
		return err
	}
	return d.field3(r, key)
}

func (d *decoder) field3(r *Record, key []byte) error {
	switch string(key) {
	case KeyPlatform:
		return d.str(&r.Platform)
	case KeyAccount:
		return d.str(&r.Account)
	case KeyRole:
		return d.str(&r.Role)
	case KeyMode:
		return d.str(&r.Mode)
	case KeyEnforced:
		return d.enforced(&r.NotEnforced)
	case KeyMessage:
		return d.str(&r.Message)
	case KeyBy:
		return d.str(&r.By)
	case KeyTarget:
		return d.str(&r.Target)
	}
	return d.skip(0)
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// literal consumes lit (null, true, false) when it comes next.
func (d *decoder) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

func (d *decoder) str(dst *string) error {
	if d.literal("null") {
		*dst = ""
		return nil
	}
	s, err := d.rawString()
	if err != nil {
		return err
	}
	*dst = string(s)
	return nil
}

func (d *decoder) strs(dst *[]string) error {
	*dst = nil
	if d.literal("null") {
		return nil
	}
	if !d.eat('[') {
		return d.errf("want array of strings")
	}
	d.ws()
	if d.eat(']') {
		return nil
	}
	for {
		d.ws()
		var s string
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return d.errf("want string in array")
		}
		if err := d.str(&s); err != nil {
			return err
		}
		*dst = append(*dst, s)
		d.ws()
		if d.eat(']') {
			return nil
		}
		if !d.eat(',') {
			return d.errf("want ',' or ']'")
		}
	}
}

func (d *decoder) enforced(notEnforced *bool) error {
	switch {
	case d.literal("false"):
		*notEnforced = true
	case d.literal("true"), d.literal("null"):
		*notEnforced = false
	default:
		return d.errf("want boolean")
	}
	return nil
}

func (d *decoder) addr(dst *netip.Addr) error {
	at := d.i
	var s string
	if err := d.str(&s); err != nil {
		return err
	}
	if s == "" {
		*dst = netip.Addr{}
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		d.i = at
		return d.errf("bad address %q", s)
	}
	*dst = a
	return nil
}

func (d *decoder) timeVal(dst *time.Time) error {
	at := d.i
	var s string
	if err := d.str(&s); err != nil {
		return err
	}
	if s == "" {
		*dst = time.Time{}
		return nil
	}
	t, err := time.Parse(timestampParse, s)
	if y := t.UTC().Year(); err != nil || y < 0 || y > 9999 {
		d.i = at
		return d.errf("bad %s %q", KeyTimestamp, s)
	}
	*dst = t
	return nil
}

// number returns the bytes of a JSON integer (no fraction or exponent).
func (d *decoder) number() ([]byte, error) {
	start := d.i
	d.eat('-')
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || (n > 1 && d.b[digits] == '0') {
		d.i = start
		return nil, d.errf("want integer")
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i = start
		return nil, d.errf("want integer")
	}
	return d.b[start:d.i], nil
}

func (d *decoder) integer(bits int) (int64, error) {
	if d.literal("null") {
		return 0, nil
	}
	at := d.i
	b, err := d.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(b), 10, bits)
	if err != nil {
		d.i = at
		return 0, d.errf("integer %s out of range", b)
	}
	return v, nil
}

func (d *decoder) unsigned(bits int) (uint64, error) {
	if d.literal("null") {
		return 0, nil
	}
	at := d.i
	b, err := d.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(b), 10, bits)
	if err != nil {
		d.i = at
		return 0, d.errf("integer %s out of range", b)
	}
	return v, nil
}

// skip consumes one JSON value of any kind.
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return d.errf("value nested too deep")
	}
	if d.i >= len(d.b) {
		return d.errf("want value")
	}
	switch c := d.b[d.i]; {
	case c == '"':
		_, err := d.rawString()
		return err
	case c == '{':
		return d.skipObject(depth)
	case c == '[':
		return d.skipArray(depth)
	case c == '-' || (c >= '0' && c <= '9'):
		return d.skipNumber()
	case d.literal("null"), d.literal("true"), d.literal("false"):
		return nil
	}
	return d.errf("want value")
}

func (d *decoder) skipObject(depth int) error {
	d.i++
	d.ws()
	if d.eat('}') {
		return nil
	}
	for {
		d.ws()
		if _, err := d.rawString(); err != nil {
			return err
		}
		d.ws()
		if !d.eat(':') {
			return d.errf("want ':'")
		}
		d.ws()
		if err := d.skip(depth + 1); err != nil {
			return err
		}
		d.ws()
		if d.eat('}') {
			return nil
		}
		if !d.eat(',') {
			return d.errf("want ',' or '}'")
		}
	}
}

func (d *decoder) skipArray(depth int) error {
	d.i++
	d.ws()
	if d.eat(']') {
		return nil
	}
	for {
		d.ws()
		if err := d.skip(depth + 1); err != nil {
			return err
		}
		d.ws()
		if d.eat(']') {
			return nil
		}
		if !d.eat(',') {
			return d.errf("want ',' or ']'")
		}
	}
}

// skipNumber consumes a JSON number, fraction and exponent included.
func (d *decoder) skipNumber() error {
	d.eat('-')
	if d.digits() == 0 {
		return d.errf("want number")
	}
	if d.eat('.') && d.digits() == 0 {
		return d.errf("want digits after '.'")
	}
	if d.eat('e') || d.eat('E') {
		if !d.eat('+') {
			d.eat('-')
		}
		if d.digits() == 0 {
			return d.errf("want exponent digits")
		}
	}
	return nil
}

func (d *decoder) digits() int {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

// rawString reads a JSON string and returns its unescaped bytes, which
// alias the line or d.buf and are valid only until the next read.
func (d *decoder) rawString() ([]byte, error) {
	if !d.eat('"') {
		return nil, d.errf("want string")
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.b[start : d.i-1], nil
		case c == '\\' || c >= utf8.RuneSelf:
			d.buf = append(d.buf[:0], d.b[start:d.i]...)
			return d.slowString()
		case c < 0x20:
			return nil, d.errf("control character in string")
		}
		d.i++
	}
	return nil, d.errf("unterminated string")
}

// slowString finishes a string that has escapes or non-ASCII bytes into
// d.buf.
func (d *decoder) slowString() ([]byte, error) {
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.buf, nil
		case c == '\\':
			if err := d.escape(); err != nil {
				return nil, err
			}
		case c < 0x20:
			return nil, d.errf("control character in string")
		case c < utf8.RuneSelf:
			d.buf = append(d.buf, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				d.buf = append(d.buf, replacementStr...)
			} else {
				d.buf = append(d.buf, d.b[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	return nil, d.errf("unterminated string")
}

// escape reads one backslash escape into d.buf.
func (d *decoder) escape() error {
	if d.i+1 >= len(d.b) {
		return d.errf("unterminated escape")
	}
	c := d.b[d.i+1]
	d.i += 2
	switch c {
	case '"', '\\', '/':
		d.buf = append(d.buf, c)
	case 'b':
		d.buf = append(d.buf, '\b')
	case 'f':
		d.buf = append(d.buf, '\f')
	case 'n':
		d.buf = append(d.buf, '\n')
	case 'r':
		d.buf = append(d.buf, '\r')
	case 't':
		d.buf = append(d.buf, '\t')
	case 'u':
		return d.unicodeEscape()
	default:
		d.i -= 2
		return d.errf("bad escape")
	}
	return nil
}

// unicodeEscape reads the hex of a \u escape (the "\u" is consumed), with
// a following low surrogate when it is a high one. A lone surrogate reads
// as U+FFFD.
func (d *decoder) unicodeEscape() error {
	r, ok := d.hex4()
	if !ok {
		return d.errf("bad \\u escape")
	}
	if utf16.IsSurrogate(r) {
		r2 := utf8.RuneError
		if d.literal("\\u") {
			back := d.i - 2
			if r2, ok = d.hex4(); !ok {
				return d.errf("bad \\u escape")
			}
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				r = dec
			} else {
				d.i = back // r2 stands alone; read it again
				r = utf8.RuneError
			}
		} else {
			r = utf8.RuneError
		}
	}
	d.buf = utf8.AppendRune(d.buf, r)
	return nil
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}
