package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestGrafanaDashboard: configs/grafana-dashboard.json is a dashboard
// whose queries use only metrics the gateway exports (as README lists
// them), and every series an operator needs has a panel.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../../configs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title      string
		UID        string
		Templating struct{ List []struct{ Name, Type string } }
		Panels     []struct {
			ID         int
			Type       string
			Title      string
			Datasource *struct{ UID string }
			GridPos    struct{ X, W int }
			Targets    []struct{ Expr, RefID string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("configs/grafana-dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Templating.List) == 0 || d.Templating.List[0].Type != "datasource" {
		t.Errorf("dashboard title %q uid %q templating %+v: want a title, a uid and a data source variable", d.Title, d.UID, d.Templating.List)
	}
	documented := readmeMetrics(t)
	name := regexp.MustCompile(`\bsmgate_[a-z_]+`)
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q is wider than the grid", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: no query on the data source variable", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced query %s", p.Title, tg.Expr)
			}
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := m
				if documented[strings.TrimSuffix(m, "_bucket")] {
					base = strings.TrimSuffix(m, "_bucket")
				}
				if !documented[base] {
					t.Errorf("panel %q queries %s, which README does not list as exported", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	for m := range documented {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}
