package allowlist

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// describeUnknown completes the unknown-key problems of a file decoded
// into v: the key's line; for a key of a list entry ("role.schedul"), the
// entry by its id and the key within it, as every other problem of an
// entry; and the known key within edit distance 2, if any, as a
// suggestion. BurntSushi/toml names an undecoded key of a list without
// its index, once per entry that has it, so the n-th "role.schedul" is
// the n-th [[role]] that writes schedul.
func describeUnknown(probs Problems, lines *lazyLines, v any) {
	entries := map[string][]int{} // key → the entries that write it, in order
	seen := map[string]int{}
	for _, p := range probs {
		if !p.unknownKey {
			continue
		}
		key := p.Key
		n := seen[key]
		seen[key]++
		p.Line = lines.get().line(key)
		if table, rest, ok := strings.Cut(key, "."); ok {
			if list := listField(reflect.ValueOf(v), table); list.IsValid() {
				is, done := entries[key]
				if !done {
					is = lines.get().entriesWith(table, rest)
					entries[key] = is
				}
				if n < len(is) && is[n] < list.Len() {
					i := is[n]
					p.Entry = entryName(table, i, idOf(list.Index(i)))
					p.Key = rest
					p.Line = lines.get().entryLine(table, i, rest)
				}
			}
		}
		p.Msg = fmt.Sprintf("unknown key %q", p.Key)
		if s := suggest(reflect.TypeOf(v), key); s != "" {
			if p.Entry != "" {
				_, s, _ = strings.Cut(s, ".")
			}
			p.Msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
	}
}

// entryName names the i-th entry of table by its id, or by its position
// when it has none: `role "dcf-communications"`, `role #3`.
func entryName(table string, i int, id string) string {
	if id == "" {
		return fmt.Sprintf("%s #%d", table, i+1)
	}
	return fmt.Sprintf("%s %q", table, id)
}

// entriesWith returns the indexes of the entries of the array of tables
// table that write key.
func (idx lineIndex) entriesWith(table, key string) []int {
	var out []int
	for i := 0; ; i++ {
		entry := table + "#" + strconv.Itoa(i)
		if _, ok := idx[entry]; !ok {
			return out
		}
		if _, ok := idx[entry+"."+key]; ok {
			out = append(out, i)
		}
	}
}

// listField returns the slice field of the struct v points to whose toml
// tag is table, or the zero Value.
func listField(v reflect.Value, table string) reflect.Value {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	for i := range v.NumField() {
		if tomlName(v.Type().Field(i)) == table && v.Field(i).Kind() == reflect.Slice {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

// idOf returns the id field of a list entry, or "".
func idOf(v reflect.Value) string {
	if v.Kind() != reflect.Struct {
		return ""
	}
	for i := range v.NumField() {
		if tomlName(v.Type().Field(i)) == "id" && v.Field(i).Kind() == reflect.String {
			return v.Field(i).String()
		}
	}
	return ""
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

// suggest returns the dotted key nearest to the unknown key in t (within
// edit distance 2 of its last part, among the keys of the same table),
// or "".
func suggest(t reflect.Type, key string) string {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		f, ok := fieldByTOML(t, p)
		if !ok {
			return ""
		}
		t = f
	}
	t = elem(t)
	if t.Kind() != reflect.Struct {
		return ""
	}
	last := parts[len(parts)-1]
	best, bestD := "", 3
	for i := range t.NumField() {
		name := tomlName(t.Field(i))
		if name == "" || name == "-" {
			continue
		}
		if d := editDistance(last, name); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return strings.Join(append(parts[:len(parts)-1:len(parts)-1], best), ".")
}

// fieldByTOML returns the type of the field of t tagged name, through
// pointers and slices.
func fieldByTOML(t reflect.Type, name string) (reflect.Type, bool) {
	t = elem(t)
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := range t.NumField() {
		if tomlName(t.Field(i)) == name {
			return t.Field(i).Type, true
		}
	}
	return nil, false
}

func elem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
