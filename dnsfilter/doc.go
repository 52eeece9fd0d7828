// Package dnsfilter is the DNS front door of smgate: a forwarding resolver
// on miekg/dns that decides every social-media name for the client that
// asked, with allowlist.Decide in DNS mode, and writes each such decision
// to the usage log.
//
// The cache holds upstream answers, never decisions, and only what
// answers the question: records of the question name and its alias chain,
// the SOA or NS of a negative answer (scrub.go). A granted user's
// cached answer is decided again for the next client, so a suspension or a
// schedule applies to cached names at once. A name is decided as itself
// and as every social-media domain on its CNAME (or DNAME, or HTTPS/SVCB
// target) chain, and answered only if every decision allows it, so that
// no alias, social or not, can cloak a platform. Blocked names get
// NXDOMAIN with an SOA (or the sinkhole addresses), with the Extended DNS
// Error "Blocked" carrying the reason code. Upstream failures answer
// SERVFAIL; the filter never answers unfiltered.
//
// UDP is served by the filter's own batch loop (udp.go: recvmmsg and
// sendmmsg, answers from the cache given in the loop, plain queries read
// from the wire); TCP by miekg/dns's server. Both end in the same handler.
//
// Server.LookupNetIP resolves names from the same cache without deciding
// them; smgate serve gives it to the proxy, so that the two front doors
// share one cache and one set of upstream sockets.
package dnsfilter
