package dnsfilter

import "strings"

// hostOf returns the host that a query name is decided as: lower case, no
// trailing dot, and, when some label holds a byte that no host name has
// (an escaped dot, a space, a raw UTF-8 byte), only the labels after the
// last such label, since the DNS resolves that name under them and under
// nothing else. plain reports whether name holds no escape, so that its
// wire form is its presentation form byte for byte (and its case can be
// patched on the wire). It does not allocate for a lower-case plain name.
func hostOf(name string) (host string, plain bool) {
	if strings.IndexByte(name, '\\') >= 0 {
		return hostOfEscaped(name), false
	}
	from, upper := 0, false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if i > 0 && name[i-1] == '.' || i == 0 && len(name) > 1 {
				from = i + 1 // an empty label: no host has one
			}
		case hostByte(c):
		case c >= 'A' && c <= 'Z':
			upper = true
		default: // a foreign byte: drop its label and every label before
			j := strings.IndexByte(name[i:], '.')
			if j < 0 {
				return "", true
			}
			i += j
			from = i + 1
		}
	}
	h := strings.TrimSuffix(name[from:], ".")
	if upper {
		h = strings.ToLower(h)
	}
	return h, true
}

// hostByte reports whether c may appear in a lower-case host label.
func hostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// hostOfEscaped is hostOf for a name with \X and \DDD escapes: it decodes
// each label and keeps the labels after the last one with a foreign byte.
func hostOfEscaped(name string) string {
	var labels []string
	var b []byte
	ok := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '\\' && i+3 < len(name) && isDigit(name[i+1]) && isDigit(name[i+2]) && isDigit(name[i+3]):
			v := int(name[i+1]-'0')*100 + int(name[i+2]-'0')*10 + int(name[i+3]-'0')
			c = byte(v)
			i += 3
		case c == '\\' && i+1 < len(name):
			i++
			c = name[i]
		case c == '.':
			if ok && len(b) > 0 {
				labels = append(labels, string(b))
			} else {
				labels = labels[:0]
			}
			b, ok = b[:0], true
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !hostByte(c) {
			ok = false
		}
		b = append(b, c)
	}
	if len(b) > 0 {
		if ok {
			labels = append(labels, string(b))
		} else {
			labels = labels[:0]
		}
	}
	return strings.Join(labels, ".")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
