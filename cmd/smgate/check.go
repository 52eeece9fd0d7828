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
	if err != nil {
		ps := allowlist.AsProblems(err)
		for _, p := range ps {
			fmt.Fprintf(e.stdout, "error: %s\n", p)
		}
		if len(ps) == 0 {
			fmt.Fprintf(e.stdout, "error: %v\n", err)
		}
		fmt.Fprintf(e.stdout, "%s: %d error(s): fix them before deploying\n", *cfgPath, max(len(ps), 1))
		return 1
	}
	cfg := l.Config
	fmt.Fprintf(e.stdout, "%s: ok\n", *cfgPath)
	fmt.Fprintf(e.stdout, "gateway %q, mode %s, time zone %s\n", cfg.Gateway.Name, cfg.Gateway.Mode, cfg.Location())
	fmt.Fprintf(e.stdout, "policy: %s\n", l.Policy.Summary())
	for _, w := range l.Warnings {
		fmt.Fprintf(e.stdout, "warning: %s\n", w)
	}
	if len(l.Warnings) > 0 {
		fmt.Fprintf(e.stdout, "%d warning(s)\n", len(l.Warnings))
	}
	return 0
}
