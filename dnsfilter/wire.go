package dnsfilter

import (
	"encoding/binary"
	"errors"
)

// Header offsets and bits of a DNS message on the wire (RFC 1035 4.1.1).
const (
	headerLen = 12
	flagQR    = 0x80 // byte 2
	flagAA    = 0x04 // byte 2
	flagTC    = 0x02 // byte 2
	flagRD    = 0x01 // byte 2
	flagRA    = 0x80 // byte 3
	flagAD    = 0x20 // byte 3
	flagCD    = 0x10 // byte 3
	typeOPT   = 41
	ednsDO    = 0x8000
)

var errWire = errors.New("malformed message")

// ttlField is where one resource record's TTL sits in a packed message,
// and the TTL the upstream gave it.
type ttlField struct {
	off int
	ttl uint32
}

// skipName returns the offset after the (possibly compressed) name at off.
func skipName(b []byte, off int) (int, error) {
	for n := 0; n < 128; n++ {
		if off >= len(b) {
			return 0, errWire
		}
		c := int(b[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				return off + 1, nil
			}
			off += 1 + c
		case 0xc0:
			return off + 2, nil
		default:
			return 0, errWire
		}
	}
	return 0, errWire
}

// layout walks a packed message with one question and returns the offset
// after the question and the TTL fields of every record but OPT.
func layout(b []byte) (qEnd int, ttls []ttlField, err error) {
	if len(b) < headerLen || binary.BigEndian.Uint16(b[4:]) != 1 {
		return 0, nil, errWire
	}
	off, err := skipName(b, headerLen)
	if err != nil {
		return 0, nil, err
	}
	qEnd = off + 4
	n := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:])) + int(binary.BigEndian.Uint16(b[10:]))
	off = qEnd
	for i := 0; i < n; i++ {
		if off, err = skipName(b, off); err != nil {
			return 0, nil, err
		}
		if off+10 > len(b) {
			return 0, nil, errWire
		}
		if binary.BigEndian.Uint16(b[off:]) != typeOPT {
			ttls = append(ttls, ttlField{off: off + 4, ttl: binary.BigEndian.Uint32(b[off+4:])})
		}
		off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
	}
	if off > len(b) || qEnd > len(b) {
		return 0, nil, errWire
	}
	return qEnd, ttls, nil
}

// appendOPT appends an OPT record advertising EDNSBufferSize, with the DO
// bit when do is set, and counts it in ARCOUNT.
func appendOPT(b []byte, do bool) []byte {
	var flags uint16
	if do {
		flags = ednsDO
	}
	b = append(b, 0, 0, typeOPT, EDNSBufferSize>>8, EDNSBufferSize&0xff, 0, 0, byte(flags>>8), byte(flags), 0, 0)
	binary.BigEndian.PutUint16(b[10:], binary.BigEndian.Uint16(b[10:])+1)
	return b
}

// patchName writes the case of name (presentation form, no escapes, same
// labels as the packed question) over the question name at offset 12.
func patchName(b []byte, name string) {
	if headerLen+1+len(name) > len(b) {
		return
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != '.' {
			b[headerLen+1+i] = c
		}
	}
}
