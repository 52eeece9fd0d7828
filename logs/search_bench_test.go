package logs

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSearchScan measures Search over a realistic log written into a
// temporary directory (in the page cache once written, so it measures the
// CPU, not the disk). MB/s is over the whole log.
//
// The log is 200 MB unless SMGATE_BENCH_LOG_MB says otherwise; on one
// core and a 1 GB log:
//
//	SMGATE_BENCH_LOG_MB=1024 GOMAXPROCS=1 go test ./logs/ \
//	    -run '^$' -bench BenchmarkSearchScan -benchtime 5x
//
// The nomatch cases are the goal (at least 300 MB/s): a filter that matches
// nothing should cost little more than reading the files.
func BenchmarkSearchScan(b *testing.B) {
	dir, size := benchLog(b)
	cases := []struct {
		name string
		q    Query
	}{
		{"nomatch-user", Query{User: "nobody"}},
		{"nomatch-domain", Query{Domain: "tiktok.com"}},
		{"nomatch-agency-outcome", Query{Agency: "NONE", Outcome: OutcomeBlocked}},
		{"user-1-in-2000", Query{User: "user0042"}},
		{"agency-blocked", Query{Agency: "AG07", Outcome: OutcomeBlocked}},
		{"everything", Query{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			var n int
			for b.Loop() {
				n = 0
				_, err := Search(dir, c.q, func([]byte, *Record) error {
					n++
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "matches")
		})
	}
}

// benchLog writes a log of SMGATE_BENCH_LOG_MB megabytes (200 by default)
// over seven days into a temporary directory and returns it and its size.
func benchLog(b *testing.B) (string, int64) {
	b.Helper()
	mb := 200
	if s := os.Getenv("SMGATE_BENCH_LOG_MB"); s != "" {
		var err error
		if mb, err = strconv.Atoi(s); err != nil || mb <= 0 {
			b.Fatalf("SMGATE_BENCH_LOG_MB=%q: want a positive number of megabytes", s)
		}
	}
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	const days = 7
	perDay := int64(mb) << 20 / days
	var total int64
	var buf []byte
	for d := range days {
		day := time.Date(2026, 11, 2+d, 0, 0, 0, 0, time.UTC)
		f, err := os.Create(filepath.Join(dir, DayFileName(day)))
		if err != nil {
			b.Fatal(err)
		}
		var written int64
		for t := day; written < perDay; t = t.Add(time.Duration(rng.Int64N(int64(50 * time.Millisecond)))) {
			buf = benchRecord(buf, rng, t)
			if len(buf) > 1<<20 || written+int64(len(buf)) >= perDay {
				n, err := f.Write(buf)
				if err != nil {
					b.Fatal(err)
				}
				written += int64(n)
				buf = buf[:0]
			}
		}
		total += written
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return dir, total
}

var benchDomains = []string{"www.facebook.com", "m.facebook.com", "scontent-iad3-1.xx.fbcdn.net", "www.instagram.com", "x.com", "api.x.com", "www.linkedin.com", "www.youtube.com", "i.ytimg.com", "www.tiktok.co"}

var benchReasons = []string{"blocked-no-grant", "blocked-outside-schedule", "blocked-action-not-granted", "blocked-not-acknowledged"}

// benchRecord appends one plausible chained line stamped t to dst.
func benchRecord(dst []byte, rng *rand.Rand, t time.Time) []byte {
	u := rng.IntN(2000)
	r := Record{
		Time: t, ID: fmt.Sprintf("%016x", rng.Uint64()), Action: ActionConnect, Outcome: OutcomeAllowed,
		Reason: "allowed-grant", Duration: time.Duration(rng.IntN(5e8)), Observer: "gw-1",
		User: fmt.Sprintf("user%04d", u), Roles: []string{"comms"}, Agency: fmt.Sprintf("AG%02d", u%30),
		SourceIP: netip.AddrFrom4([4]byte{10, byte(u >> 8), byte(u), 7}), Domain: benchDomains[rng.IntN(len(benchDomains))],
		DestIP: netip.AddrFrom4([4]byte{157, 240, byte(rng.IntN(256)), 35}), DestPort: 443, Country: "US", ASN: 32934,
		SrcBytes: rng.Int64N(1e5), DestBytes: rng.Int64N(1e7), Platform: "facebook", Account: "fb-" + strconv.Itoa(u%30),
		Role: "comms", Mode: "explicit",
	}
	switch rng.IntN(4) {
	case 0:
		r.Outcome, r.Reason, r.Account, r.Role = OutcomeBlocked, benchReasons[rng.IntN(len(benchReasons))], "", ""
	case 1:
		r.Action, r.Mode, r.Path, r.Method, r.Status = ActionHTTPRequest, "intercept", "/AG/posts/"+strconv.Itoa(rng.IntN(1e6)), "GET", 200
	}
	return append(dst, storedLine(&r)...)
}
