package allowlist

import (
	"bytes"
	"reflect"
	"strings"
	"sync"
)

// parallelThreshold is the size from which a policy file is decoded in
// parallel chunks: a directory of 100,000 users is tens of megabytes, and
// TOML decoding dominates loading it.
const parallelThreshold = 1 << 20

// chunk is a piece of a TOML text that starts at a top-level array-of-
// tables header (or at the start of the file).
type chunk struct {
	text []byte
	line int // 0-based line of the chunk's start in the whole file
}

// splitChunks cuts src into about n pieces at lines that open a top-level
// array of tables ("[[user]]", never "[[a.b]]"), outside multi-line values.
func splitChunks(src []byte, n int) []chunk {
	target := len(src)/n + 1
	var out []chunk
	start, startLine, line, depth := 0, 0, 0, 0
	multi := false // inside a multi-line """ or ''' string
	for off := 0; off < len(src); line++ {
		end := bytes.IndexByte(src[off:], '\n')
		if end < 0 {
			end = len(src) - off
		}
		l := src[off : off+end]
		t := strings.TrimSpace(string(l))
		if c := strings.Count(t, `"""`) + strings.Count(t, `'''`); c%2 == 1 {
			multi = !multi
		}
		switch {
		case multi || depth > 0:
			depth += bracketDepth(t)
		case strings.HasPrefix(string(l), "[[") && !strings.Contains(tableName(t[2:], "]]"), "."):
			if off-start >= target {
				out = append(out, chunk{src[start:off], startLine})
				start, startLine = off, line
			}
		case !strings.HasPrefix(t, "["):
			if _, v, ok := strings.Cut(t, "="); ok {
				depth = bracketDepth(v)
			}
		}
		off += end + 1
	}
	return append(out, chunk{src[start:], startLine})
}

// decodeChunks decodes the chunks of src concurrently into values of v's
// type and appends their slice fields, in order, to v.
func decodeChunks(file string, src []byte, v any, n int) Problems {
	chunks := splitChunks(src, n)
	vals := make([]reflect.Value, len(chunks))
	probs := make([]Problems, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		vals[i] = reflect.New(reflect.TypeOf(v).Elem())
		wg.Add(1)
		go func() {
			defer wg.Done()
			probs[i] = decodeOne(file, c.text, vals[i].Interface())
			for _, p := range probs[i] {
				if p.Line > 0 {
					p.Line += c.line
				}
			}
		}()
	}
	wg.Wait()
	var all Problems
	for _, ps := range probs {
		all = append(all, ps...)
	}
	dst := reflect.ValueOf(v).Elem()
	for _, val := range vals {
		for f := range dst.NumField() {
			if dst.Field(f).Kind() == reflect.Slice {
				dst.Field(f).Set(reflect.AppendSlice(dst.Field(f), val.Elem().Field(f)))
			}
		}
	}
	return all
}
