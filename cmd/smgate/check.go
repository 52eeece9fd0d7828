package main

import (
	"fmt"

	"github.com/smgate/smgate/allowlist"
)

func runCheck(e *env, args []string) int {
	fs := newFlags(e, "check", "[--config F]")
	cfgPath := fs.String("config", defaultConfig(), "gateway configuration `file`")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "smgate check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	l, err := allowlist.Load(*cfgPath)
	var errs, warns allowlist.Problems
	if err == nil {
		errs, warns = validate(l.Config)
		warns = append(l.Warnings, warns...)
	} else {
		if errs = allowlist.AsProblems(err); len(errs) == 0 {
			errs = allowlist.Problems{{File: *cfgPath, Msg: err.Error()}}
		}
		// What serve refuses beyond the policy is checked too, as far
		// as the config could be decoded, so that one run lists every
		// error.
		if cfg, _ := allowlist.DecodeConfig(*cfgPath); cfg != nil {
			ferrs, _ := validate(cfg)
			errs = append(errs, ferrs...)
		}
	}
	if len(errs) > 0 {
		for _, p := range errs {
			fmt.Fprintf(e.stdout, "error: %s\n", p)
		}
		fmt.Fprintf(e.stdout, "%s: %d error(s): fix them before deploying\n", *cfgPath, len(errs))
		return 1
	}
	cfg := l.Config
	fmt.Fprintf(e.stdout, "%s: ok\n", *cfgPath)
	fmt.Fprintf(e.stdout, "gateway %q, mode %s, time zone %s\n", cfg.Gateway.Name, cfg.Gateway.Mode, cfg.Location())
	fmt.Fprintf(e.stdout, "policy: %s\n", l.Policy.Summary())
	for _, w := range warns {
		fmt.Fprintf(e.stdout, "warning: %s\n", w)
	}
	if len(warns) > 0 {
		fmt.Fprintf(e.stdout, "%d warning(s)\n", len(warns))
	}
	return 0
}
