package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// Limits of admin API requests.
const (
	maxBodyBytes = 64 << 10
	maxReasonLen = 4096
	maxByLen     = 256
)

// defaultAPIBy is smgate.by of an API change whose request names no one.
const defaultAPIBy = "admin-api"

// errorBody is every error answer of the admin API.
type errorBody struct {
	Error string `json:"error"`
	// Suspension is the suspension in force, on 409 for a suspend.
	Suspension *allowlist.Suspension `json:"suspension,omitempty"`
	// Problems lists what is wrong with the policy files, on 422 for a reload.
	Problems []string `json:"problems,omitempty"`
	// Generation is the policy still in force, on 422 for a reload.
	Generation uint64 `json:"generation,omitempty"`
	// Hold is the hold in force under the id, on 409 for a hold with
	// other terms, or the hold placed but not recorded, on 500.
	Hold *logs.Hold `json:"hold,omitempty"`
}

// suspendRequest is the body of POST .../{id}/suspend.
type suspendRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// byRequest is the optional body of POST /reload and of hold releases.
type byRequest struct {
	By string `json:"by"`
}

// reinstateRequest is the optional body of POST .../{id}/reinstate.
type reinstateRequest struct {
	Reason string `json:"reason"` // optional: why it is lifted
	By     string `json:"by"`
}

// suspensionBody answers a suspend or a reinstate.
type suspensionBody struct {
	Suspension allowlist.Suspension `json:"suspension"`
	// Warning says what the operator may not expect: in report mode a
	// suspension blocks nothing.
	Warning string `json:"warning,omitempty"`
}

// reportModeWarning is the warning of a suspension made while the gateway
// runs in report mode.
const reportModeWarning = "gateway.mode is report: the suspension is in force in every decision and in the usage log, but nothing is blocked until gateway.mode is enforce"

// reloadBody answers a successful reload.
type reloadBody struct {
	Generation uint64   `json:"generation"`
	Warnings   []string `json:"warnings"`
}

// statusBody answers GET /api/v1/status.
type statusBody struct {
	Gateway     string                 `json:"gateway"`
	Ready       bool                   `json:"ready"`
	NotReady    []string               `json:"not_ready,omitempty"`
	Policy      allowlist.Status       `json:"policy"`
	Listeners   map[string]string      `json:"listeners"`
	UsageLog    logStatus              `json:"usage_log"`
	Suspensions []allowlist.Suspension `json:"suspensions"`
}

type logStatus struct {
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
}

// suspensionsBody answers GET /api/v1/suspensions.
type suspensionsBody struct {
	Suspensions []allowlist.Suspension `json:"suspensions"`
}

func (a *admin) status(w http.ResponseWriter, _ *http.Request) {
	why := notReady(a.g)
	st := statusBody{
		Gateway:     a.g.engine.Config().Gateway.Name,
		Ready:       len(why) == 0,
		NotReady:    why,
		Policy:      a.g.engine.Status(),
		Listeners:   configuredListeners(a.g),
		UsageLog:    logStatus{Healthy: true},
		Suspensions: nonNil(a.g.engine.Suspensions()),
	}
	if err := a.g.sink.Healthy(); err != nil {
		st.UsageLog = logStatus{Error: err.Error()}
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *admin) suspensions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, suspensionsBody{Suspensions: nonNil(a.g.engine.Suspensions())})
}

// reload loads the policy files again. Broken files answer 422 with the
// problems; the last good policy stays in force.
func (a *admin) reload(w http.ResponseWriter, r *http.Request) {
	var req byRequest
	if !decodeBody(w, r, &req, false) || !validBy(w, req.By) {
		return
	}
	l, err := reload(a.g, orDefault(req.By, defaultAPIBy))
	ferr := a.flush()
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{
			Error:      "reload failed: the last good policy stays in force",
			Problems:   problemList(err),
			Generation: a.g.engine.Snapshot().Gen(),
		})
		return
	}
	warns := problemText(l.Warnings)
	if ferr != nil {
		warns = append(warns, "the reload's usage record is not written yet: it is queued and written once the usage log can be written again ("+ferr.Error()+")")
	}
	writeJSON(w, http.StatusOK, reloadBody{Generation: l.Snapshot.Gen(), Warnings: warns})
}

// suspend suspends {scope}/{id}. The engine persists the suspension before
// it takes effect; the usage record is fsynced before the answer.
func (a *admin) suspend(w http.ResponseWriter, r *http.Request) {
	sc, id, ok := target(w, r)
	var req suspendRequest
	if !ok || !decodeBody(w, r, &req, true) || !validBy(w, req.By) {
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		writeError(w, http.StatusBadRequest, `"reason" is required: say why, it goes to the usage log`)
		return
	}
	if !validReason(w, req.Reason) {
		return
	}
	a.changeMu.Lock()
	s, err := a.g.engine.Suspend(sc, id, req.Reason, orDefault(req.By, defaultAPIBy))
	if err != nil {
		a.changeMu.Unlock()
		a.changeFailed(w, err, s)
		return
	}
	a.recordChange(w, logs.ActionSuspend, s, s.By, s.Reason)
}

// validReason answers 400 for a reason too long or with control
// characters, and reports whether it is valid.
func validReason(w http.ResponseWriter, reason string) bool {
	return validText(w, "reason", reason, maxReasonLen, "write it on one line")
}

// validText answers 400 and returns false when the field's value v is
// longer than max bytes or holds a control character (hint says what to
// write instead).
func validText(w http.ResponseWriter, field, v string, max int, hint string) bool {
	switch {
	case len(v) > max:
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`"%s" is longer than %d bytes`, field, max))
		return false
	case hasControl(v):
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`"%s" holds a control character (a newline, an escape): %s`, field, hint))
		return false
	}
	return true
}

// reinstate lifts the suspension of {scope}/{id}: 404 when the policy has
// no such target and it is not suspended, 409 when it is not suspended.
func (a *admin) reinstate(w http.ResponseWriter, r *http.Request) {
	sc, id, ok := target(w, r)
	var req reinstateRequest
	if !ok || !decodeBody(w, r, &req, false) || !validBy(w, req.By) {
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if !validReason(w, req.Reason) {
		return
	}
	by := orDefault(req.By, defaultAPIBy)
	a.changeMu.Lock()
	s, err := a.g.engine.Reinstate(sc, id, by)
	if errors.Is(err, allowlist.ErrNotSuspended) && !targetKnown(a.g.engine.Snapshot(), sc, id) {
		err = fmt.Errorf("%s %q: %w", sc, id, allowlist.ErrNotFound)
	}
	if err != nil {
		a.changeMu.Unlock()
		a.changeFailed(w, err, s)
		return
	}
	// The record says why the suspension is lifted when told, and why it
	// was made, which is otherwise gone with it.
	msg := "suspended for: " + s.Reason
	if req.Reason != "" {
		msg = req.Reason + " (" + msg + ")"
	}
	a.recordChange(w, logs.ActionReinstate, s, by, msg)
}

// changeFailed answers a failed suspend or reinstate.
func (a *admin) changeFailed(w http.ResponseWriter, err error, s allowlist.Suspension) {
	switch {
	case errors.Is(err, allowlist.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, allowlist.ErrAlreadySuspended):
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error(), Suspension: &s})
	case errors.Is(err, allowlist.ErrNotSuspended):
		writeError(w, http.StatusConflict, err.Error())
	default:
		a.g.log.Error().Err(err).Msg("admin api: suspension change failed")
		writeError(w, http.StatusInternalServerError, "the change was not made: "+err.Error())
	}
}

// recordChange writes the usage record of a suspend or reinstate, with
// message, waits until it is durable and answers with the suspension. The
// change is in force already; a record that cannot be written is a 500
// that says so. It unlocks a.changeMu once the record is queued.
func (a *admin) recordChange(w http.ResponseWriter, action string, s allowlist.Suspension, by, message string) {
	r := &logs.Record{Action: action, Outcome: logs.OutcomeSuccess, By: by,
		Target: string(s.Scope) + ":" + s.ID, Message: message}
	switch s.Scope {
	case allowlist.ScopeAgency:
		r.Agency = s.ID
	case allowlist.ScopePlatform:
		r.Platform = s.ID
	case allowlist.ScopeAccount:
		r.Account = s.ID
	}
	msg := "%s is in force, but its usage record could not be written: %v"
	err := a.g.logChange(r)
	a.changeMu.Unlock()
	if err == nil && a.g.writer != nil {
		msg = "%s is in force, but its usage record is not written yet: it is queued and written once the usage log can be written again (%v)"
		err = a.g.writer.Flush()
	}
	if err != nil {
		a.g.log.Error().Err(err).Str("action", action).Str("target", r.Target).Msg("admin api: change in force but not recorded in the usage log yet")
		writeJSON(w, http.StatusInternalServerError, errorBody{
			Error:      fmt.Sprintf(msg, action, err),
			Suspension: &s,
		})
		return
	}
	body := suspensionBody{Suspension: s}
	if action == logs.ActionSuspend && a.g.engine.Snapshot().Config().Gateway.Mode == allowlist.ModeReport {
		body.Warning = reportModeWarning
	}
	writeJSON(w, http.StatusOK, body)
}

// flush makes the records written so far durable and returns the
// writer's error; a failure is logged by the writer and shows in
// readiness.
func (a *admin) flush() error {
	if a.g.writer != nil {
		return a.g.writer.Flush()
	}
	return nil
}

// target parses {scope} and {id} of the path, answering 404 for a scope
// other than agencies, platforms or accounts.
func target(w http.ResponseWriter, r *http.Request) (allowlist.Scope, string, bool) {
	name := r.PathValue("scope")
	if !slices.Contains([]string{"agencies", "platforms", "accounts"}, name) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: unknown scope %q (want agencies, platforms or accounts)", name))
		return "", "", false
	}
	sc, _ := allowlist.ParseScope(name)
	return sc, r.PathValue("id"), true
}

// targetKnown reports whether the policy of s has the target.
func targetKnown(s *allowlist.Snapshot, sc allowlist.Scope, id string) bool {
	p := s.Policy()
	switch sc {
	case allowlist.ScopeAgency:
		return s.AgencyName(id) != ""
	case allowlist.ScopePlatform:
		return slices.ContainsFunc(p.Catalogue.Platforms, func(x allowlist.Platform) bool { return x.ID == id })
	case allowlist.ScopeAccount:
		return slices.ContainsFunc(p.Registry.Accounts, func(x allowlist.Account) bool { return x.ID == id })
	}
	return false
}

// decodeBody decodes the JSON object of r into dst, refusing unknown
// fields, trailing data and bodies over maxBodyBytes. An empty body is
// accepted unless required. It answers the error itself and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, required bool) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if errors.Is(err, io.EOF) && !required {
		return true
	}
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("unexpected data after the JSON object")
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", maxBodyBytes))
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "request body is empty: want a JSON object")
	default:
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
	}
	return false
}

// validBy answers 400 and returns false when by is too long or holds a
// control character.
func validBy(w http.ResponseWriter, by string) bool {
	return validText(w, "by", by, maxByLen, "give a plain name")
}

// hasControl reports whether v holds a control character. Reasons and
// names go to the usage log, which escapes them, but also to operators'
// terminals (the CLI's answers, hold lists), where a newline forges a line
// and an escape sequence rewrites the screen: they are refused.
func hasControl(v string) bool { return strings.ContainsFunc(v, unicode.IsControl) }

// problemList returns the problems of err, or err itself, as strings.
func problemList(err error) []string {
	if ps := allowlist.AsProblems(err); len(ps) > 0 {
		return problemText(ps)
	}
	return []string{err.Error()}
}

// problemText returns ps as strings, never nil.
func problemText(ps allowlist.Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Error()
	}
	return out
}

func orDefault(s, def string) string {
	if s = strings.TrimSpace(s); s == "" {
		return def
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// Hold routes of the admin API.
const (
	routeHolds       = "/api/v1/holds"
	routeHoldRelease = "/api/v1/holds/{id}/release"
)

// holdRequest is the body of POST /api/v1/holds. From and To are UTC
// days, YYYY-MM-DD; empty is open-ended.
type holdRequest struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Agency string `json:"agency"`
	User   string `json:"user"`
	From   string `json:"from"`
	To     string `json:"to"`
	By     string `json:"by"`
}

// holdBody answers a placed or released hold. Result is "placed" (201),
// "recorded" (the same hold was in force without its usage record, which
// is written now) or "unchanged" (the same hold was in force and
// recorded) for POST /api/v1/holds, and "released" for a release.
type holdBody struct {
	Hold   logs.Hold `json:"hold"`
	Result string    `json:"result"`
}

// holdsBody answers GET /api/v1/holds.
type holdsBody struct {
	Holds []logs.Hold `json:"holds"`
}

// holdAPI serves the litigation holds of the running gateway: it changes
// data_dir/holds.json and writes each change's usage record through the
// gateway's own writer, which holds the log.
type holdAPI struct {
	g     *gateway
	store *logs.HoldStore
	mu    sync.Mutex // one change at a time: save, record, mark recorded
}

// holdRoutes adds the hold endpoints to an admin mux through handle.
func (a *admin) holdRoutes(handle func(string, http.Handler)) {
	h := &holdAPI{g: a.g, store: logs.NewHoldStore(a.g.cfg.Gateway.DataDir, nil)}
	handle(routeHolds, a.api(methods(http.HandlerFunc(h.holds), http.MethodGet, http.MethodPost)))
	handle(routeHoldRelease, a.api(methods(http.HandlerFunc(h.release), http.MethodPost)))
}

func (h *holdAPI) holds(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		h.place(w, r)
		return
	}
	holds, err := h.store.List()
	if err != nil {
		h.g.log.Error().Err(err).Msg("admin api: cannot read the holds")
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, holdsBody{Holds: nonNil(holds)})
}

// place places a hold: 201 when new, 200 when the same hold is in force
// (its record written now if it was missing), 400 for bad input, 409 for
// an id in use with other terms, 500 when the hold could not be saved or
// is in force without its record.
func (h *holdAPI) place(w http.ResponseWriter, r *http.Request) {
	var req holdRequest
	if !decodeBody(w, r, &req, true) || !validBy(w, req.By) {
		return
	}
	hold, err := req.hold()
	if err == nil {
		err = checkHoldTargets(hold, h.g.engine.Snapshot())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.mu.Lock()
	saved, res, err := placeHold(h.store, h.record, hold)
	h.mu.Unlock()
	switch {
	case errors.Is(err, logs.ErrHoldExists):
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error(), Hold: &saved})
	case errors.Is(err, errHoldUnrecorded):
		h.g.log.Error().Err(err).Str("hold", saved.ID).Msg("admin api: hold in force but not recorded in the usage log")
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error(), Hold: &saved})
	case err != nil:
		h.g.log.Error().Err(err).Str("hold", hold.ID).Msg("admin api: hold not placed")
		writeError(w, http.StatusInternalServerError, "the hold was not placed: "+err.Error())
	case res == holdPlaced:
		writeJSON(w, http.StatusCreated, holdBody{Hold: saved, Result: res.String()})
	default:
		writeJSON(w, http.StatusOK, holdBody{Hold: saved, Result: res.String()})
	}
}

// release releases hold {id}: 200 with the hold, 404 when there is none,
// 500 when its record or the holds file could not be written (the hold
// then stays in force).
func (h *holdAPI) release(w http.ResponseWriter, r *http.Request) {
	var req byRequest
	if !decodeBody(w, r, &req, false) || !validBy(w, req.By) {
		return
	}
	h.mu.Lock()
	hold, err := releaseHold(h.store, h.record, r.PathValue("id"), orDefault(req.By, defaultAPIBy))
	h.mu.Unlock()
	switch {
	case errors.Is(err, logs.ErrHoldUnknown):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		h.g.log.Error().Err(err).Str("hold", hold.ID).Msg("admin api: hold not released")
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error(), Hold: &hold})
	default:
		writeJSON(w, http.StatusOK, holdBody{Hold: hold, Result: "released"})
	}
}

// record writes r through the gateway's usage log and waits until it is
// durable.
func (h *holdAPI) record(r *logs.Record) error {
	if err := h.g.sink.Log(r); err != nil {
		return err
	}
	if h.g.writer != nil {
		return h.g.writer.Flush()
	}
	return nil
}

// hold returns the hold that req asks for, or a usage error naming the
// field.
func (req holdRequest) hold() (logs.Hold, error) {
	h := logs.Hold{ID: strings.TrimSpace(req.ID), Reason: strings.TrimSpace(req.Reason),
		Agency: strings.TrimSpace(req.Agency), User: strings.TrimSpace(req.User),
		CreatedBy: orDefault(req.By, defaultAPIBy)}
	if len(h.Reason) > maxReasonLen {
		return h, fmt.Errorf(`"reason" is longer than %d bytes`, maxReasonLen)
	}
	var err error
	for _, d := range []struct {
		name, v string
		t       *time.Time
	}{{"from", req.From, &h.From}, {"to", req.To, &h.To}} {
		if *d.t, err = parseDay(d.name, strings.TrimSpace(d.v)); err != nil {
			_, perr := time.Parse(time.DateOnly, strings.TrimSpace(d.v))
			return h, fmt.Errorf("%q %q: %swant a date YYYY-MM-DD", d.name, d.v, noSuchDate(perr))
		}
	}
	return h, h.Validate()
}
