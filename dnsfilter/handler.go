package dnsfilter

import (
	"time"

	"github.com/miekg/dns"

	"github.com/smgate/smgate/allowlist"
)

// ServeDNS answers one request: it implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	start := s.now()
	var q query
	switch rc := q.parse(w, r); rc {
	case rcodeOK:
	case rcodeDrop:
		return
	default:
		s.m.query("", rcodeOutcome(rc), "")
		writeRcode(w, r, &q, rc)
		return
	}
	s.serveQuery(w, r, &q, start)
}

// serveQuery answers the well-formed query q. r is the request it was
// read from, or nil when q was read from the wire directly (parseWire).
func (s *Server) serveQuery(w dns.ResponseWriter, r *dns.Msg, q *query, start time.Time) {
	snap := s.engine.Snapshot()
	cfg := &snap.Config().DNS
	if cfg.RateLimit > 0 && !s.lim.allow(q.client, cfg.RateLimit, start.UnixNano()) {
		s.m.rateLimited.Inc()
		s.m.query("", outcomeRefused, "")
		writeRcode(w, r, q, dns.RcodeRefused)
		return
	}
	if isCanary(q.host) {
		s.m.query("", outcomeBlocked, string(allowlist.ReasonBypass))
		writeBlockNX(w, q, allowlist.ReasonBypass)
		return
	}
	s.resolve(w, r, q, snap, start)
}

// resolve answers a well-formed query: decided before going upstream when
// the name itself is social media, after it (by the chain the answer
// leads to) when it is not.
func (s *Server) resolve(w dns.ResponseWriter, r *dns.Msg, q *query, snap *allowlist.Snapshot, start time.Time) {
	social, d := s.decideName(snap, q, start)
	if social && !d.Pass() {
		s.deny(w, q, &snap.Config().DNS, &d, "", start)
		return
	}
	e := s.cached(q, start.UnixNano())
	if e == nil {
		if u, ok := w.(*udpReply); ok && u.inline {
			// The batch does not wait for an upstream: the query goes on
			// in a goroutine of its own and answers alone.
			dw, q2, d2 := u.detach(), *q, d // copies: only this path allocates them
			go func() {
				defer dw.done()
				defer s.recoverQuery()
				s.answer(dw, r, &q2, snap, social, d2, nil, start)
			}()
			return
		}
	}
	s.answer(w, r, q, snap, social, d, e, start)
}

// decideName decides q's own name when it is social media or a bypass
// resolver; social reports whether it is.
func (s *Server) decideName(snap *allowlist.Snapshot, q *query, start time.Time) (social bool, d allowlist.Decision) {
	if platform, _, bypass := snap.Lookup(q.host); platform != "" || bypass {
		return true, s.decide(snap, q, q.host, start)
	}
	return false, d
}

// answer answers q with the upstream answer e, fetched first when e is
// nil, as resolve decided it (social, d) under snap.
func (s *Server) answer(w dns.ResponseWriter, r *dns.Msg, q *query, snap *allowlist.Snapshot, social bool, d allowlist.Decision, e *entry, start time.Time) {
	var err error
	if e == nil {
		e, err = s.fetch(q, start.UnixNano())
		// The wait for the upstream can last timeout × upstreams: a
		// suspension or reload meanwhile applies to this answer too.
		// Swaps are rare, so a pointer comparison tells, and q's own name
		// is decided again only then.
		if cur := s.engine.Snapshot(); cur != snap {
			snap = cur
			if social, d = s.decideName(snap, q, start); social && !d.Pass() {
				s.deny(w, q, &snap.Config().DNS, &d, "", start)
				return
			}
		}
	}
	cfg := &snap.Config().DNS
	if err != nil {
		s.log.Debug().Err(err).Msg("upstream failed")
		if social {
			_ = s.recordNote(q, &d, "", noteServfail, start)
		}
		s.m.query(d.Platform, outcomeServfail, "")
		writeRcode(w, r, q, dns.RcodeServerFailure)
		return
	}
	social, d, via := s.judge(snap, q, e, social, d, start)
	if !social {
		s.pass(w, q, e, cfg, start)
		return
	}
	s.remember(snap, e, start)
	if !d.Pass() {
		s.deny(w, q, cfg, &d, via, start)
		return
	}
	if err := s.record(q, &d, via, start); err != nil {
		s.failClosed(w, q, cfg, &d, err)
		return
	}
	a := &e.plain
	if e.noECH != nil {
		a = e.noECH
	}
	s.m.query(d.Platform, outcomeOf(&d), string(d.Reason))
	s.writeAnswer(w, q, a, e, start.UnixNano())
}

// noteServfail is the message of the record of an allowed query that the
// upstream failed: the client got SERVFAIL, not an answer.
const noteServfail = "upstream failed: answered SERVFAIL"

// pass answers a name that is no social media, as the upstream did.
func (s *Server) pass(w dns.ResponseWriter, q *query, e *entry, cfg *allowlist.DNSConfig, start time.Time) {
	if cfg.LogNotSocial {
		d := allowlist.Decision{Allow: true, Enforced: true, Reason: allowlist.ReasonAllowedNotSocial, Host: q.host}
		_ = s.record(q, &d, "", start)
	}
	s.m.query("", outcomeAllowed, string(allowlist.ReasonAllowedNotSocial))
	s.writeAnswer(w, q, &e.plain, e, start.UnixNano())
}

// decide decides host for q's client. A usage log that cannot take
// records blocks, in report mode too: no social-media use goes unrecorded.
func (s *Server) decide(snap *allowlist.Snapshot, q *query, host string, start time.Time) allowlist.Decision {
	t0 := time.Now()
	d := snap.Decide(&allowlist.Request{ClientIP: q.client, Host: host, Source: allowlist.SourceDNS, Time: start})
	s.m.decision.Observe(time.Since(t0).Seconds())
	if err := s.sink.Healthy(); err != nil {
		d.Allow, d.Enforced, d.Reason = false, true, allowlist.ReasonPolicyUnavailable
	}
	return d
}

// deny records the blocked decision d and writes the block answer.
func (s *Server) deny(w dns.ResponseWriter, q *query, cfg *allowlist.DNSConfig, d *allowlist.Decision, via string, start time.Time) {
	if err := s.record(q, d, via, start); err != nil {
		s.log.Warn().Err(err).Msg("usage log refused a blocked dns query")
	}
	s.m.query(d.Platform, outcomeBlocked, string(d.Reason))
	writeBlock(w, q, cfg, d.Reason)
}

// failClosed blocks a query whose record the usage log refused.
func (s *Server) failClosed(w dns.ResponseWriter, q *query, cfg *allowlist.DNSConfig, d *allowlist.Decision, err error) {
	s.log.Warn().Err(err).Msg("usage log refused a dns query record: blocked")
	s.m.query(d.Platform, outcomeBlocked, string(allowlist.ReasonPolicyUnavailable))
	writeBlock(w, q, cfg, allowlist.ReasonPolicyUnavailable)
}

// judge decides every social-media name (or bypass resolver) that e's
// answer leads to, besides q's own name, which resolve decided (social,
// d): a platform name can hide behind another as well as behind a
// non-social alias, so no name on the chain goes undecided, and the
// answer passes only if every decision does. It returns whether any name
// was social media, the decision that applies (the first that does not
// allow, else q's own, else the first chain name's) and the chain name it
// was taken on ("" for q's own name).
func (s *Server) judge(snap *allowlist.Snapshot, q *query, e *entry, social bool, d allowlist.Decision, start time.Time) (bool, allowlist.Decision, string) {
	via := ""
	for _, h := range e.chain {
		if platform, _, bypass := snap.Lookup(h); platform == "" && !bypass {
			continue
		}
		hd := s.decide(snap, q, h, start)
		if !social || d.Allow && !hd.Allow {
			social, d, via = true, hd, h
		}
		if !d.Pass() {
			break
		}
	}
	return social, d, via
}

// remember tells the address memory which platform each of e's addresses
// belongs to: that of the last platform name on the alias chain up to the
// address's owner. It does so once per entry and policy generation.
func (s *Server) remember(snap *allowlist.Snapshot, e *entry, now time.Time) {
	if s.addrs == nil || len(e.addrs) == 0 || e.gen.Load() == snap.Gen() {
		return
	}
	e.gen.Store(snap.Gen())
	age := e.age(now.UnixNano())
	for _, a := range e.addrs {
		if platform := e.platformAt(snap, int(a.at)); platform != "" {
			s.addrs.Remember(a.addr, platform, time.Duration(a.ttl-min(a.ttl, age))*time.Second, now)
		}
	}
}

// fetch returns the upstream answer for q's key: from the cache, or from
// the upstreams with concurrent misses of one key collapsed into one
// upstream query.
func (s *Server) fetch(q *query, now int64) (*entry, error) {
	if e := s.cached(q, now); e != nil {
		return e, nil
	}
	s.m.cacheMisses.Inc()
	k := q.key
	return s.flights.do(k, func() (*entry, error) {
		if e := s.cache.get(k, now); e != nil {
			return e, nil
		}
		pkt, question, err := upstreamQuery(&k)
		if err != nil {
			return nil, err
		}
		m, err := s.up.exchange(pkt, question)
		if err != nil {
			return nil, err
		}
		t := s.now().UnixNano()
		e, err := newEntry(m, k.name, k.qtype, t)
		if err != nil {
			return nil, err
		}
		s.cache.put(k, e, t)
		return e, nil
	})
}

// cached returns the cached upstream answer for q's key, or nil.
func (s *Server) cached(q *query, now int64) *entry {
	e := s.cache.get(q.key, now)
	if e != nil {
		s.m.cacheHits.Inc()
	}
	return e
}

// upstreamQuery packs the query the filter sends upstream for k, and
// returns its question section too.
func upstreamQuery(k *cacheKey) (pkt, question []byte, err error) {
	m := new(dns.Msg)
	m.SetQuestion(k.name, k.qtype)
	m.CheckingDisabled = k.cd
	m.SetEdns0(EDNSBufferSize, k.do)
	if pkt, err = m.Pack(); err != nil {
		return nil, nil, err
	}
	end, err := skipName(pkt, headerLen)
	if err != nil {
		return nil, nil, err
	}
	return pkt, pkt[headerLen : end+4], nil
}

func outcomeOf(d *allowlist.Decision) string {
	if d.Allow {
		return outcomeAllowed
	}
	return outcomeBlocked
}

func rcodeOutcome(rc int) string {
	switch rc {
	case dns.RcodeNotImplemented:
		return outcomeNotimp
	case dns.RcodeRefused:
		return outcomeRefused
	}
	return outcomeFormerr
}
