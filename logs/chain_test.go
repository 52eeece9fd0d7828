package logs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestChainConstruction pins the construction documented in chain.go with
// the standard library alone.
func TestChainConstruction(t *testing.T) {
	bodies := []string{`{"event.id":"a"}`, `{}`}
	for _, key := range [][]byte{nil, []byte("secret")} {
		c := newChain(key, genesis)
		prev := make([]byte, 32) // genesis
		for _, body := range bodies {
			h := sha256.New()
			if key != nil {
				h = hmac.New(sha256.New, key)
			}
			h.Write(prev)
			h.Write([]byte(body))
			want := h.Sum(nil)
			got := c.next([]byte(body))
			if hex.EncodeToString(want) != got.String() {
				t.Fatalf("key %q body %s: chain %s, want %x", key, body, got, want)
			}
			prev = want
		}
	}
}

func TestAppendChainAndSplit(t *testing.T) {
	var sum Sum
	for i := range sum {
		sum[i] = byte(i)
	}
	tests := []struct{ body, line string }{
		{`{"event.id":"a"}`, `{"event.id":"a","smgate.chain":"` + sum.String() + `"}`},
		{`{}`, `{"smgate.chain":"` + sum.String() + `"}`},
	}
	for _, tt := range tests {
		line := appendChain([]byte(tt.body), sum)
		if string(line) != tt.line+"\n" {
			t.Errorf("appendChain(%s) = %s", tt.body, line)
		}
		head, got, ok := splitChain(line[:len(line)-1])
		if !ok || got != sum || string(head)+"}" != tt.body {
			t.Errorf("splitChain(%s) = %s, %s, %v", tt.line, head, got, ok)
		}
	}
}

func TestSplitChainRejects(t *testing.T) {
	h := Sum{}.String()
	for _, line := range []string{
		``,
		`{}`,
		`{"event.id":"a"}`,
		`{"smgate.chain":"` + h[:63] + `"}`,
		`{"smgate.chain":"` + h[:63] + `g"}`,
		`{"smgate.chain":"` + h[:63] + `A"}`,
		`x"smgate.chain":"` + h + `"}`,
		`{"a":1 "smgate.chain":"` + h + `"}`,
		`,"smgate.chain":"` + h + `"}`,
		`{"message":"x\",\"smgate.chain\":\"` + h + `"}`,
	} {
		if _, _, ok := splitChain([]byte(line)); ok {
			t.Errorf("splitChain accepted %s", line)
		}
	}
}

func TestLinksFrom(t *testing.T) {
	c := newChain(nil, genesis)
	body := []byte(`{"event.id":"a"}`)
	line := appendChain(append([]byte(nil), body...), c.next(body))
	line = line[:len(line)-1]
	if !c.linksFrom(genesis, line) {
		t.Error("line does not link from genesis")
	}
	if c.linksFrom(Sum{1}, line) {
		t.Error("line links from another value")
	}
	if newChain([]byte("k"), genesis).linksFrom(genesis, line) {
		t.Error("plain chain verifies under a key")
	}
}

// FuzzSplitChain: any line either does not split or rebuilds exactly
// from its parts.
func FuzzSplitChain(f *testing.F) {
	f.Add([]byte(`{"event.id":"a","smgate.chain":"` + Sum{1}.String() + `"}`))
	f.Add([]byte(`{"smgate.chain":"` + Sum{}.String() + `"}`))
	f.Add([]byte(`{"smgate.chain":"zz"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		head, sum, ok := splitChain(line)
		if !ok {
			return
		}
		got := appendChain(append(append([]byte(nil), head...), '}'), sum)
		if string(got) != string(line)+"\n" {
			t.Fatalf("split %q rebuilt as %q", line, got)
		}
	})
}
