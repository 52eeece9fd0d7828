package allowlist

import (
	"strconv"
	"strings"
	"sync"
)

// lineIndex maps TOML key paths to the line that defines them, so that
// validation errors can name a line. BurntSushi/toml knows positions only
// while decoding, so this is a light scan of the same text. Keys are
// "table.key" for tables and "array#i.key" for the i-th (0-based) entry of
// an array of tables; "array#i" is the entry's header line.
type lineIndex map[string]int

// lazyLines indexes a file's lines on first use: only problems need them,
// and a large directory loads faster without.
type lazyLines struct {
	src  []byte
	once sync.Once
	idx  lineIndex
}

func (l *lazyLines) get() lineIndex {
	if l == nil {
		return nil
	}
	l.once.Do(func() { l.idx = indexLines(string(l.src)) })
	return l.idx
}

func indexLines(src string) lineIndex {
	idx := lineIndex{}
	counts := map[string]int{}
	cur := ""
	depth := 0 // open brackets of a multi-line array
	for n, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if depth > 0 {
			depth += bracketDepth(t)
			continue
		}
		switch {
		case t == "" || t[0] == '#':
		case strings.HasPrefix(t, "[["):
			name := tableName(strings.TrimPrefix(t, "[["), "]]")
			cur = name + "#" + strconv.Itoa(counts[name])
			counts[name]++
			idx[cur] = n + 1
		case t[0] == '[':
			cur = tableName(t[1:], "]")
			idx[cur] = n + 1
		default:
			k, v, ok := strings.Cut(t, "=")
			if !ok {
				continue
			}
			key := unquoteKey(strings.TrimSpace(k))
			if cur != "" {
				key = cur + "." + key
			}
			if _, dup := idx[key]; !dup {
				idx[key] = n + 1
			}
			depth = bracketDepth(v)
		}
	}
	return idx
}

func tableName(s, end string) string {
	s, _, _ = strings.Cut(s, end)
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = unquoteKey(strings.TrimSpace(p))
	}
	return strings.Join(parts, ".")
}

func unquoteKey(k string) string {
	if len(k) >= 2 && (k[0] == '"' || k[0] == '\'') && k[len(k)-1] == k[0] {
		return k[1 : len(k)-1]
	}
	return k
}

// bracketDepth returns the net number of '[' over ']' in a value, outside
// strings and comments.
func bracketDepth(v string) int {
	d := 0
	var quote byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return d
		case c == '[':
			d++
		case c == ']':
			d--
		}
	}
	return d
}

// line returns the line of key, or of the first entry of an array of tables
// that defines it ("role.schedul" finds "role#3.schedul"), or 0.
func (idx lineIndex) line(key string) int {
	if n, ok := idx[key]; ok {
		return n
	}
	table, rest, ok := strings.Cut(key, ".")
	if !ok {
		return 0
	}
	for i := 0; ; i++ {
		entry := table + "#" + strconv.Itoa(i)
		if _, ok := idx[entry]; !ok {
			return 0
		}
		if n, ok := idx[entry+"."+rest]; ok {
			return n
		}
	}
}

// entryLine returns the line of a key of the i-th entry of an array of
// tables, or of the entry's header when the key is not written there.
func (idx lineIndex) entryLine(table string, i int, key string) int {
	entry := table + "#" + strconv.Itoa(i)
	if n, ok := idx[entry+"."+key]; ok && key != "" {
		return n
	}
	return idx[entry]
}
