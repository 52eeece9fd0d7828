package dnsfilter

import (
	"sync"
	"time"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// records are the filter's Record values: a sink does not keep the
// record it is given, and a query that allocated one would give the
// garbage collector half a kilobyte more to collect.
var records = sync.Pool{New: func() any { return new(logs.Record) }}

// record writes the usage record of q's decision d. via is the chain
// target the name was decided as ("" when decided as itself).
func (s *Server) record(q *query, d *allowlist.Decision, via string, start time.Time) error {
	return s.recordNote(q, d, via, "", start)
}

// recordNote is record with a note on what the client got, when that is
// not what the decision says (an upstream failure answered SERVFAIL).
func (s *Server) recordNote(q *query, d *allowlist.Decision, via, note string, start time.Time) error {
	r := records.Get().(*logs.Record)
	defer records.Put(r)
	*r = logs.Record{
		Time:        start,
		Action:      logs.ActionDNSQuery,
		Outcome:     outcomeOf(d),
		Reason:      string(d.Reason),
		Duration:    s.now().Sub(start),
		User:        d.User,
		Roles:       d.Roles,
		Agency:      d.Agency,
		SourceIP:    q.client,
		Domain:      q.host,
		Platform:    d.Platform,
		Account:     d.Account,
		Role:        d.Role,
		Mode:        string(allowlist.SourceDNS),
		NotEnforced: !d.Enforced && !d.Allow,
	}
	switch {
	case via != "" && note != "":
		r.Message = "cname target " + via + "; " + note
	case via != "":
		r.Message = "cname target " + via
	default:
		r.Message = note
	}
	return s.sink.Log(r)
}
