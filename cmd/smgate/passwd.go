package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// passwdCost is the bcrypt cost of new hashes (about 50 ms on a gateway;
// the proxy caches verified credentials).
const passwdCost = 11

func runPasswd(e *env, args []string) int {
	fs := newFlags(e, "passwd", "[--cost N] < password")
	cost := fs.Int("cost", passwdCost, "bcrypt `cost`")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		fmt.Fprintf(e.stderr, "smgate passwd: --cost %d is out of range %d-%d\n", *cost, bcrypt.MinCost, bcrypt.MaxCost)
		return 2
	}
	pw, err := readPassword(e)
	if err != nil {
		fmt.Fprintf(e.stderr, "smgate passwd: %v\n", err)
		return 1
	}
	h, err := bcrypt.GenerateFromPassword(pw, *cost)
	if err != nil {
		fmt.Fprintf(e.stderr, "smgate passwd: %v\n", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "%s\n", h)
	return 0
}

// readPassword reads one line: from the terminal without echo when stdin
// is one, else from stdin as it is.
func readPassword(e *env) ([]byte, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		return checkPassword(pw)
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read password: %w", err)
	}
	return checkPassword([]byte(strings.TrimRight(line, "\r\n")))
}

func checkPassword(pw []byte) ([]byte, error) {
	switch {
	case len(pw) == 0:
		return nil, errors.New("empty password")
	case len(pw) > 72:
		return nil, errors.New("password longer than 72 bytes (bcrypt ignores the rest)")
	}
	return pw, nil
}
