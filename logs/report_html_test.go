package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// voidElements have no end tag.
var voidElements = map[string]bool{"meta": true, "br": true, "hr": true, "img": true, "input": true, "link": true, "col": true}

// checkWellFormed tokenizes page and reports an end tag that does not
// close the innermost open element, or an element left open.
func checkWellFormed(t *testing.T, page []byte) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(page))
	var open []string
	for {
		switch z.Next() {
		case html.ErrorToken:
			if !errors.Is(z.Err(), io.EOF) {
				t.Fatalf("tokenize: %v", z.Err())
			}
			if len(open) > 0 {
				t.Errorf("elements left open: %v", open)
			}
			return
		case html.StartTagToken:
			name, _ := z.TagName()
			if !voidElements[string(name)] {
				open = append(open, string(name))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(open) == 0 || open[len(open)-1] != string(name) {
				t.Fatalf("</%s> does not close the open %v", name, open)
			}
			open = open[:len(open)-1]
		}
	}
}

func writeHTML(t *testing.T, rep *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// text returns the text of the elements of doc, space-separated.
func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func TestReportHTML(t *testing.T) {
	page := writeHTML(t, sampleReport(t, Query{}, ByAgency))
	checkWellFormed(t, page)
	for _, bad := range []string{"http://", "https://", "<script", "<link", "<img", "<iframe", "@import", "url("} {
		if bytes.Contains(bytes.ToLower(page), []byte(bad)) {
			t.Errorf("page contains %q: it must be self-contained", bad)
		}
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var svgs, rects, tables int
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		for _, a := range n.Attr {
			if a.Key == "src" || a.Key == "href" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s %s=%q>: no links, sources or handlers", n.Data, a.Key, a.Val)
			}
		}
		switch n.Data {
		case "svg":
			svgs++
		case "rect":
			rects++
		case "table":
			tables++
		}
	}
	if svgs != 1 || rects != 4 || tables != 4 {
		t.Errorf("%d svg, %d bars, %d tables; want 1 chart of 2 groups × 2 bars and 4 tables", svgs, rects, tables)
	}
	body := text(doc)
	for _, want := range []string{
		"Social media usage report by agency", "2026-11-01 08:00 UTC to 2026-11-04 12:00 UTC", "gw-1",
		"9: 4 allowed, 5 blocked", "DCF: 3 allowed, 3 blocked", "jsmith (2)", "blocked-no-grant (1)",
		"fb-dcf", "not in registry", "expired", "17",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
}

func TestReportHTMLEscapes(t *testing.T) {
	rep := &Report{By: ByUser, Groups: []Group{{Key: `<script>alert("x")</script>`, Counts: Counts{1, 2}}},
		Problems: []string{"<b>bad</b>"}, Gateways: []string{"<i>gw</i>"}}
	page := writeHTML(t, rep)
	checkWellFormed(t, page)
	if bytes.Contains(page, []byte("<script")) || bytes.Contains(page, []byte("<b>bad")) || bytes.Contains(page, []byte("<i>gw")) {
		t.Errorf("values are not escaped:\n%s", page)
	}
}

func TestReportHTMLEmptyAndMany(t *testing.T) {
	checkWellFormed(t, writeHTML(t, &Report{By: ByAgency}))
	rep := &Report{By: ByUser}
	for i := range 40 {
		rep.Groups = append(rep.Groups, Group{Key: fmt.Sprintf("user-with-a-rather-long-name-%02d", i), Counts: Counts{40 - i, i}})
	}
	page := writeHTML(t, rep)
	checkWellFormed(t, page)
	if n := bytes.Count(page, []byte("<rect")); n != 2*chartMaxBars {
		t.Errorf("%d bars, want %d", n, 2*chartMaxBars)
	}
	if !bytes.Contains(page, []byte("the 25 largest of 40 groups")) || !bytes.Contains(page, []byte("…")) {
		t.Error("chart does not say it shows the largest groups, or does not cut long labels")
	}
}
