// Command smgate is the social-media egress gateway: a forward proxy and a
// DNS filter that enforce an agency's acceptable-use policy and keep a
// tamper-evident usage log. This package is wiring only.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	// The IANA zone database, used when the host has none (a minimal
	// image without /usr/share/zoneinfo): gateway.timezone decides when
	// approvals start and end, so serve must not fail to start, or check
	// to pass, for want of a system package. About 450 KB.
	_ "time/tzdata"
)

// env is what a subcommand may touch: its arguments and standard streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

// commands lists the subcommands in the order help shows them.
func commands() []command {
	return []command{
		{"serve", "run the gateway (proxy, DNS filter, admin API)", runServe},
		{"check", "validate the configuration and policy files", runCheck},
		{"passwd", "read a password on stdin and print its bcrypt hash", runPasswd},
		{"suspend", "suspend an agency, platform or account (through the admin API)", runSuspend},
		{"reinstate", "lift a suspension (through the admin API)", runReinstate},
		{"logs", "usage logs: search, verify, prune, hold", runLogs},
		{"report", "usage report for monitoring staff", runReport},
		{"pac", "print the proxy auto-configuration file", runPac},
		{"version", "print the version and the revision it was built from", runVersion},
	}
}

// defaultConfig is the --config of every command: $SMGATE_CONFIG when set
// (an installed gateway exports SMGATE_CONFIG=/etc/smgate/smgate.toml so
// that operators need not repeat it), else the example in the source tree.
func defaultConfig() string {
	if p := os.Getenv("SMGATE_CONFIG"); p != "" {
		return p
	}
	return "configs/smgate.toml"
}

func main() {
	os.Exit(run(&env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

func run(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(e, []string{args[1], "-h"})
		}
		usage(e.stdout)
		return 0
	case "-version", "--version":
		return runVersion(e, args[1:])
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "smgate: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: smgate <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'smgate <command> -h' for the flags of a command")
}

// newFlags returns a flag set that prints its errors and usage to e.stderr
// and does not exit.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("smgate "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: smgate %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs and returns the exit code to use when
// parsing ended the command (0 for -h, 2 for a bad flag), or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string) int {
	err := fs.Parse(args)
	switch {
	case err == flag.ErrHelp:
		return 0
	case err != nil:
		return 2
	}
	return -1
}
