package main

import (
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// Exit codes of suspend and reinstate.
const (
	exitOK    = 0
	exitFail  = 1 // the gateway refused, or could not be reached
	exitUsage = 2
)

func runSuspend(e *env, args []string) int { return runSuspension(e, "suspend", args) }

func runReinstate(e *env, args []string) int { return runSuspension(e, "reinstate", args) }

// suspensionArgs are the parsed arguments of suspend and reinstate.
type suspensionArgs struct {
	verb   string
	config string
	scope  allowlist.Scope
	id     string
	reason string
	by     string
}

// runSuspension suspends or reinstates (verb) a target through the admin
// API of the running gateway.
func runSuspension(e *env, verb string, args []string) int {
	a, code := parseSuspension(e, verb, args)
	if code >= 0 {
		return code
	}
	c, err := newAdminClient(a.config)
	if err != nil {
		fmt.Fprintf(e.stderr, "smgate %s: %v\n", verb, err)
		return exitFail
	}
	path := fmt.Sprintf("/api/v1/%s/%s/%s", scopePath(a.scope), url.PathEscape(a.id), verb)
	var req any = reinstateRequest{Reason: a.reason, By: a.by}
	if verb == "suspend" {
		req = suspendRequest{Reason: a.reason, By: a.by}
	}
	var out suspensionBody
	if err := c.post(path, req, &out); err != nil {
		fmt.Fprintf(e.stderr, "smgate %s: %v\n", verb, err)
		return exitFail
	}
	printSuspension(e, verb, out.Suspension)
	if out.Warning != "" {
		fmt.Fprintf(e.stderr, "smgate %s: warning: %s\n", verb, out.Warning)
	}
	return exitOK
}

// parseSuspension parses the flags and the target of suspend or
// reinstate; the code is -1 to go on, or the exit code.
func parseSuspension(e *env, verb string, args []string) (suspensionArgs, int) {
	a := suspensionArgs{verb: verb}
	synopsis := "AGENCY | --platform ID | --account ID [--reason R] [--by NAME] [--config F]"
	if verb == "suspend" {
		synopsis = "AGENCY | --platform ID | --account ID --reason R [--by NAME] [--config F]"
	}
	fs := newFlags(e, verb, synopsis)
	fs.StringVar(&a.config, "config", defaultConfig(), "gateway configuration `file` (admin.listen and admin.token_file)")
	platform := fs.String("platform", "", "act on a platform `ID` for every agency")
	account := fs.String("account", "", "act on one approved account `ID` of the registry")
	fs.StringVar(&a.by, "by", whoami(), "who orders it, for the usage log: default $SUDO_USER, then $USER, then the user the command runs as")
	if verb == "suspend" {
		fs.StringVar(&a.reason, "reason", "", "why, for the usage log (required)")
	} else {
		fs.StringVar(&a.reason, "reason", "", "why it is lifted, for the usage log (optional)")
	}
	pos, code := parseInterleaved(fs, args)
	if code >= 0 {
		return a, code
	}
	if err := a.setTarget(pos, *platform, *account); err != nil {
		fmt.Fprintf(e.stderr, "smgate %s: %v\n", verb, err)
		fs.Usage()
		return a, exitUsage
	}
	if verb == "suspend" && strings.TrimSpace(a.reason) == "" {
		fmt.Fprintf(e.stderr, "smgate suspend: --reason is required (it goes to the usage log)\n")
		return a, exitUsage
	}
	if strings.TrimSpace(a.by) == "" {
		// Left empty, the record would name the admin API rather than a
		// person: who ordered it is the point of the record.
		fmt.Fprintf(e.stderr, "smgate %s: --by is empty; name who orders it (it goes to the usage log)\n", verb)
		return a, exitUsage
	}
	return a, -1
}

// setTarget sets the scope and id from exactly one of an agency argument,
// --platform and --account.
func (a *suspensionArgs) setTarget(pos []string, platform, account string) error {
	var n int
	if len(pos) > 1 {
		return fmt.Errorf("one agency at a time, got %q", pos)
	}
	if len(pos) == 1 {
		a.scope, a.id, n = allowlist.ScopeAgency, pos[0], n+1
	}
	if platform != "" {
		a.scope, a.id, n = allowlist.ScopePlatform, platform, n+1
	}
	if account != "" {
		a.scope, a.id, n = allowlist.ScopeAccount, account, n+1
	}
	switch {
	case n == 0:
		return fmt.Errorf("name an AGENCY, a --platform or an --account")
	case n > 1:
		return fmt.Errorf("name only one of AGENCY, --platform and --account")
	case strings.TrimSpace(a.id) == "":
		return fmt.Errorf("the id is empty")
	}
	return nil
}

// parseInterleaved parses args into fs allowing flags after positional
// arguments ("suspend DCF --reason R"); it returns the positionals, and
// the exit code when parsing ended the command (-1 to go on).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, int) {
	var pos []string
	for {
		if code := parseFlags(fs, args); code >= 0 {
			return nil, code
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, -1
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), -1
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func scopePath(sc allowlist.Scope) string {
	switch sc {
	case allowlist.ScopeAgency:
		return "agencies"
	case allowlist.ScopePlatform:
		return "platforms"
	}
	return "accounts"
}

func printSuspension(e *env, verb string, s allowlist.Suspension) {
	at := s.At.Local().Format(time.RFC3339)
	if verb == "suspend" {
		fmt.Fprintf(e.stdout, "suspended %s %s at %s by %s: %s\n", s.Scope, s.ID, at, s.By, s.Reason)
		return
	}
	fmt.Fprintf(e.stdout, "reinstated %s %s (suspended at %s by %s: %s)\n", s.Scope, s.ID, at, s.By, s.Reason)
}
