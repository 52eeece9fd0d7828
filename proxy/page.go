package proxy

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"net/http"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/smgate/smgate/allowlist"
)

//go:embed pages
var pageFiles embed.FS

var (
	htmlPage = htmltemplate.Must(htmltemplate.ParseFS(pageFiles, "pages/block.html"))
	textPage = texttemplate.Must(texttemplate.ParseFS(pageFiles, "pages/block.txt"))
)

// page is what a block or error page shows. Every text in it comes from
// the decision or from the constants below, never from an internal error.
type page struct {
	Status   int
	Title    string
	Platform string // display name; "" when not social media
	Host     string
	Reason   string // the stable code; "" for gateway errors
	Explain  string
	Requires string
	Access   string
	ID       string
	User     string
	Time     string
	Gateway  string
}

// Staff-facing texts of the pages.
const (
	titleBlocked   = "Blocked by the social media acceptable-use policy"
	titleSignIn    = "Sign in to use social media"
	titleError     = "The gateway could not complete this request"
	policyRequires = "State equipment may be used for social media only for official business: by staff who are identified as themselves and have acknowledged the acceptable-use policy, through platforms or agency accounts approved by agency management and granted to their role, at the times and for the actions the role allows."
	accessDefault  = "If your job duties require this use, ask your agency's social media coordinator to request access for your role. Quote the request id below."
	accessSignIn   = "Sign in with your agency user name and password when your browser asks. If it does not ask, or your password is refused, contact the help desk and quote the request id below."
	accessAck      = "Read and acknowledge the social media acceptable-use policy, then ask your agency's social media coordinator to record your acknowledgement."
	accessRetry    = "Try again in a few minutes. If the problem persists, contact the help desk and quote the request id below."
	accessLimited  = "Too many sign-in attempts failed. Wait a few minutes before trying again, and check your user name and password."
	// No grant changes a ban, a suspension or a port: these do not send
	// staff to ask for access.
	accessBanned        = "The ban applies to every role, so access to this platform cannot be requested. If you think it is banned in error, contact the help desk and quote the request id below."
	accessSuspended     = "The suspension applies until the central security unit lifts it; requesting access does not change it. Your agency's social media coordinator can tell you more; quote the request id below."
	accessPort          = "Use the platform's usual web address, without a port number. If your work needs another port, contact the help desk and quote the request id below."
	accessMismatch      = "Sign in with your own user name, or use the computer assigned to you. If this computer is assigned to you and the gateway names someone else, contact the help desk and quote the request id below."
	accessBypassIP      = "Use the platform's name (for example its www address) instead of a numeric address: the gateway then checks it like any other request."
	accessBypassService = "This is an encrypted DNS resolver or relay service, which is not permitted on state equipment. Turn off secure DNS (DNS over HTTPS) or private relay in your browser or device settings; the agency's resolvers are used instead. If your work needs this service, contact the help desk and quote the request id below."
)

// decisionPage is the page of a blocked decision.
func (s *Server) decisionPage(f *flow, snap *allowlist.Snapshot, status int) *page {
	p := &page{Status: status, Title: titleBlocked, Host: f.d.Host, Reason: string(f.d.Reason),
		Explain: f.d.Reason.Explain(), Requires: policyRequires, Access: accessDefault,
		ID: f.id, User: f.d.User, Time: f.start.UTC().Format(time.RFC3339),
		Gateway: snap.Config().Gateway.Name}
	if f.d.Platform != "" {
		p.Platform = snap.PlatformName(f.d.Platform)
	}
	switch f.d.Reason {
	case allowlist.ReasonUnauthenticated:
		p.Title, p.Access = titleSignIn, accessSignIn
		if status == http.StatusTooManyRequests {
			p.Access = accessLimited
		}
	case allowlist.ReasonNotAcknowledged:
		p.Access = accessAck
	case allowlist.ReasonPolicyUnavailable:
		p.Access = accessRetry
	case allowlist.ReasonPlatformBanned:
		p.Access = accessBanned
	case allowlist.ReasonAgencySuspended, allowlist.ReasonPlatformSuspended, allowlist.ReasonAccountSuspended:
		p.Access = accessSuspended
	case allowlist.ReasonPort:
		p.Access = accessPort
	case allowlist.ReasonIdentityMismatch:
		p.Access = accessMismatch
	case allowlist.ReasonBypass:
		p.Access = accessBypassIP
		if f.d.Platform == "" { // a bypass service of the catalogue, not a platform's address
			p.Access = accessBypassService
		}
	}
	return p
}

// gatewayPage is the page of a request the gateway could not complete
// (bad request, refused destination, upstream failure, overload).
func gatewayPage(status int, host, explain, id, gw string, now time.Time) *page {
	return &page{Status: status, Title: titleError, Host: host, Explain: explain,
		Access: accessRetry, ID: id, Time: now.UTC().Format(time.RFC3339), Gateway: gw}
}

// Explanations of gateway pages.
const (
	explainBadRequest = "The request was not a valid proxy request."
	explainRefused    = "The gateway does not connect to this address: its own services and internal addresses are out of reach through it."
	explainNoName     = "The site's name could not be found."
	explainBadGateway = "The site could not be reached."
	explainTimeout    = "The site did not answer in time."
	explainBusy       = "The gateway is serving as many connections as it can. Try again shortly."
)

// wantsHTML reports whether a client's Accept header asks for HTML (a
// browser); other clients get plain text.
func wantsHTML(accept string) bool { return strings.Contains(accept, "text/html") }

// render returns the page as HTML or text, and its content type.
func (p *page) render(html bool) ([]byte, string) {
	var b bytes.Buffer
	if html {
		if err := htmlPage.Execute(&b, p); err == nil {
			return b.Bytes(), "text/html; charset=utf-8"
		}
		b.Reset()
	}
	if err := textPage.Execute(&b, p); err != nil {
		b.Reset()
		b.WriteString(p.Title + "\n\nRequest id: " + p.ID + "\n")
	}
	return b.Bytes(), "text/plain; charset=utf-8"
}

// response returns the page as an *http.Response to r.
func (p *page) response(r *http.Request, html bool) *http.Response {
	body, ctype := p.render(html)
	h := make(http.Header, 6)
	p.setHeaders(h, ctype, len(body))
	return &http.Response{
		StatusCode: p.Status, Status: strconv.Itoa(p.Status) + " " + http.StatusText(p.Status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: r,
		Body: readCloser{bytes.NewReader(body)}, ContentLength: int64(len(body)),
	}
}

// write writes the page to w.
func (p *page) write(w http.ResponseWriter, html bool) {
	body, ctype := p.render(html)
	p.setHeaders(w.Header(), ctype, len(body))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

func (p *page) setHeaders(h http.Header, ctype string, n int) {
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(n))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(headerRequestID, p.ID)
	if p.Reason != "" {
		h.Set(headerReason, p.Reason)
	}
}

// Response headers that name the decision.
const (
	headerReason    = "X-Smgate-Reason"
	headerRequestID = "X-Smgate-Request-Id"
)

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
