package allowlist

import (
	"errors"
	"fmt"
	"strings"
)

// Problem is one error or warning found in a configuration file. It names
// the file, the line where known, the entry of a list by its id, and the key.
type Problem struct {
	File  string // path as given to the loader
	Line  int    // 1-based; 0 when unknown
	Entry string // e.g. `role "dcf-communications"`; "" for top-level keys
	Key   string // key path within the entry or file, e.g. "schedule"
	Msg   string

	unknownKey bool // decoding went on past it: the file can be validated
	valueError bool // a value of the wrong type: decoding can go on without it
}

// Error formats the problem as file:line: entry: key: message.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Entry != "" {
		b.WriteString(p.Entry)
		b.WriteString(": ")
	}
	if p.Key != "" {
		fmt.Fprintf(&b, "%s: ", p.Key)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every error found while loading; it is returned as the error
// of Load and LoadConfig so that an operator sees them all at once.
type Problems []*Problem

// Error lists the problems, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// AsProblems returns the problems in err, if it holds any.
func AsProblems(err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return ps
	}
	var p *Problem
	if errors.As(err, &p) {
		return Problems{p}
	}
	return nil
}

// report collects problems for one file.
type report struct {
	file  string
	lines *lazyLines
	probs *Problems
}

// top reports a problem with a key outside any list entry.
func (r report) top(key, format string, args ...any) {
	*r.probs = append(*r.probs, &Problem{File: r.file, Line: r.lines.get().line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// entry reports a problem with key of the i-th entry of table, which has id.
func (r report) entry(table string, i int, id, key, format string, args ...any) {
	e := entryName(table, i, id)
	*r.probs = append(*r.probs, &Problem{
		File: r.file, Line: r.lines.get().entryLine(table, i, key), Entry: e, Key: key,
		Msg: fmt.Sprintf(format, args...),
	})
}
