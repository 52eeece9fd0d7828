package allowlist

import (
	"reflect"
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
