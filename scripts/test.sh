#!/usr/bin/env bash
# Runs everything CI checks: formatting, go vet, and the test suite with the
# race detector. Needs Go (modules come from the Go module proxy), gcc for
# -race and node for the PAC tests (both installed with apt-get when
# missing); every test server runs in-process on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || { echo "test.sh: Go is not installed (want /usr/local/go/bin/go)" >&2; exit 1; }
# -race needs cgo (gcc); the PAC file tests evaluate it in node.
missing=()
command -v gcc >/dev/null || missing+=(gcc)
command -v node >/dev/null || missing+=(nodejs)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -race -count=1 "$@" ./...
