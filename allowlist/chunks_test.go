package allowlist

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDecodeChunksMatchesWhole(t *testing.T) {
	for _, f := range []string{"directory.toml", "registry.toml", "platforms.toml"} {
		src := []byte(readTestdata(t, f) + "\n[[user]]\nid = \"multi\"\nroles = [\n  \"a\",\n  \"b\",\n]\nname = \"\"\"\n[[user]]\n\"\"\"\n")
		for _, n := range []int{1, 2, 3, 7} {
			var whole, parts Directory
			var wholeR, partsR Registry
			var wholeC, partsC Catalogue
			wholeV, partsV := any(&whole), any(&parts)
			switch f {
			case "registry.toml":
				wholeV, partsV = &wholeR, &partsR
			case "platforms.toml":
				wholeV, partsV = &wholeC, &partsC
			}
			if f != "directory.toml" {
				src = []byte(readTestdata(t, f))
			}
			p1 := decodeOne(f, src, wholeV)
			p2 := decodeChunks(f, src, partsV, n)
			if len(p1) != 0 || len(p2) != 0 {
				t.Fatalf("%s in %d chunks: problems %v / %v", f, n, p1, p2)
			}
			if !reflect.DeepEqual(wholeV, partsV) {
				t.Fatalf("%s decoded in %d chunks differs from the whole", f, n)
			}
		}
	}
}

func TestDecodeChunksErrorLine(t *testing.T) {
	src := readTestdata(t, "directory.toml")
	broken := strings.Replace(src, `id = "tlee"`, `id = "tlee`, 1)
	want := 1 + strings.Count(src[:strings.Index(src, `id = "tlee"`)], "\n")
	var d Directory
	ps := decodeChunks("directory.toml", []byte(broken), &d, 4)
	if len(ps) == 0 || ps[0].Line != want && ps[0].Line != want+1 {
		t.Fatalf("error in a later chunk: %v, want line %d", ps, want)
	}
}

// TestValueErrorChunked: a value of the wrong type in a file decoded in
// parallel chunks is reported with its line in the whole file and its
// entry.
func TestValueErrorChunked(t *testing.T) {
	var b strings.Builder
	line := 0
	for u := range 14000 {
		if u == 7000 {
			line = 3 + strings.Count(b.String(), "\n")
			fmt.Fprintf(&b, "[[user]]\nid = \"user%d\"\nname = %d\n\n", u, u)
			continue
		}
		fmt.Fprintf(&b, "[[user]]\nid = \"user%d\"\nname = \"User %d, a name long enough to make the file large\"\n\n", u, u)
	}
	src := []byte(b.String())
	if len(src) < parallelThreshold {
		t.Fatalf("the file is %d bytes, under the %d of parallel decoding: make it larger", len(src), parallelThreshold)
	}
	var d Directory
	_, ps := decodeFile("directory.toml", src, &d)
	want := fmt.Sprintf(`directory.toml:%d: user "user7000": name: incompatible types`, line)
	if len(ps) != 1 || !strings.Contains(ps[0].Error(), want) {
		t.Fatalf("got %v, want one problem saying %q", ps, want)
	}
}

// TestUnknownKeyEntriesChunked: in a file decoded in parallel chunks, an
// unknown key written in entries of different chunks names each entry by
// its id, with its line in the whole file.
func TestUnknownKeyEntriesChunked(t *testing.T) {
	var b strings.Builder
	for u := range 8000 {
		typo := u == 3 || u == 7000
		fmt.Fprintf(&b, "[[user]]\nid = \"user%d\"\n", u)
		if typo {
			b.WriteString("nmae = \"typo\"\n")
		}
		fmt.Fprintf(&b, "name = \"User %d\"\nagency = \"DCF\"\nroles = [\"dcf-communications\"]\nips = [\"10.9.%d.%d\"]\nacknowledged_on = 2026-01-10\n\n", u, u/256, u%256)
	}
	src := []byte(b.String())
	if len(src) < parallelThreshold {
		t.Fatalf("the file is %d bytes, under the %d of parallel decoding: make it larger", len(src), parallelThreshold)
	}
	var d Directory
	lines, probs := decodeFile("directory.toml", src, &d)
	if lines == nil || len(d.Users) != 8000 {
		t.Fatalf("decoded %d users, lines %v: %v", len(d.Users), lines != nil, probs)
	}
	var got []string
	for _, p := range probs {
		got = append(got, p.Error())
	}
	line := func(u int) int { // of the typo: the user's third line
		return 1 + strings.Count(string(src[:strings.Index(string(src), fmt.Sprintf("id = \"user%d\"\n", u))]), "\n") + 1
	}
	want := []string{
		fmt.Sprintf(`directory.toml:%d: user "user3": nmae: unknown key "nmae" (did you mean name?)`, line(3)),
		fmt.Sprintf(`directory.toml:%d: user "user7000": nmae: unknown key "nmae" (did you mean name?)`, line(7000)),
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
