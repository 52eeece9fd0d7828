#!/usr/bin/env bash
# Measures smgate in the side-by-side benchmark lab (/work/shared/bench/run.sh)
# against the direct baseline and the lab's peers (squid, tinyproxy,
# goproxy-min) in one run, with smgate's policy, Basic authentication and
# usage logging all on.
#
#   scripts/bench-lab.sh             # full HTTP half of the lab (about 8-10 min)
#   scripts/bench-lab.sh --quick     # 1 x 2 s per figure, to try a change
#   scripts/bench-lab.sh --out DIR   # any further option goes to run.sh
#   scripts/bench-lab.sh --with-gomaxprocs2 ...
#                                    # also measure a second smgate, the same
#                                    # binary and policy with GOMAXPROCS=2 on the
#                                    # same single pinned CPU (serve itself uses
#                                    # Go's default there: 1), in the same run
#
# The lab addresses its origin by address, never by name: plain HTTP as
# http://127.0.0.1:18080/small (absolute URI), tunnels as CONNECT
# 127.0.0.1:18080 / 127.0.0.1:18443; there is no --resolve and no DNS in the
# HTTP half. So the origin is made a social-media destination the way the
# gateway matches IP literals: an ASN database (geoip.asn_db, written here
# with mmdbwriter) puts 127.0.0.0/8 in AS 32934, Facebook's AS in the
# shipped catalogue, and user "bench" has a role granting Facebook. Every
# lab request is then authenticated, decided (allowed-grant) and written to
# the usage log (fsync'd group commit under /tmp). proxy.deny_destinations
# leaves 127.0.0.0/8 out so the loopback origin is reachable, and
# allowed_ports adds the lab's origin ports.
#
# Only one lab run at a time on a machine: the run holds /tmp/smgate-lab.lock.
# Everything stays on loopback. Environment: SMGATE_LAB_DIR (default
# /tmp/smgate-lab), SMGATE_LAB_PORT (default 18210), BENCH_LAB (default
# /work/shared/bench).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB=${BENCH_LAB:-/work/shared/bench}
DIR=${SMGATE_LAB_DIR:-/tmp/smgate-lab}
PORT=${SMGATE_LAB_PORT:-18210}
LAB_USER=bench
LAB_PASS=bench-lab-password
GMP2=0
if [ "${1:-}" = --with-gomaxprocs2 ]; then
	GMP2=1
	shift
fi
export PATH="/usr/local/go/bin:$PATH"
cd "$ROOT"

go build -o /tmp/smgate-bench ./cmd/smgate
rm -rf "$DIR"
mkdir -p "$DIR"
cp configs/platforms.toml "$DIR/platforms.toml"
hash=$(printf '%s\n' "$LAB_PASS" | go run ./cmd/smgate passwd)

# The ASN database: 127.0.0.0/8 -> AS 32934 (facebook in the catalogue).
cat > "$DIR/mkasn.go" <<'EOF'
package main

import (
	"log"
	"net"
	"os"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func main() {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", IncludeReservedNetworks: true, RecordSize: 28})
	if err != nil {
		log.Fatal(err)
	}
	_, n, _ := net.ParseCIDR("127.0.0.0/8")
	if err := tree.Insert(n, mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(32934)}); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
EOF
go run "$DIR/mkasn.go" "$DIR/asn.mmdb"

# gateway_config NAME PORT: the gateway file of one smgate instance.
gateway_config() {
	cat > "$DIR/$1.toml" <<EOF
[gateway]
name = "gw-lab"
timezone = "UTC"
data_dir = "$DIR/var-$1"
mode = "enforce"

[proxy]
listen = "127.0.0.1:$2"
auth = ["basic"]
unverified_accounts = "allow"
allowed_ports = [80, 443, 18080, 18443]
deny_destinations = ["::1/128", "169.254.0.0/16", "fe80::/10", "0.0.0.0/8"]

[dns]
listen = "127.0.0.1:$(($2 + 1))"

[admin]
listen = "127.0.0.1:$(($2 + 2))"

[logs]
dir = "$DIR/logs-$1"

[geoip]
asn_db = "$DIR/asn.mmdb"

[policy]
platforms = "platforms.toml"
registry = "registry.toml"
directory = "directory.toml"
EOF
}
gateway_config smgate "$PORT"
gateway_config smgate-gmp2 "$((PORT + 10))"

cat > "$DIR/registry.toml" <<'EOF'
# no approved accounts: the lab user has a platform-level grant
EOF

cat > "$DIR/directory.toml" <<EOF
[[agency]]
id = "LAB"
name = "Benchmark Lab"

[[role]]
id = "lab-social"
agency = "LAB"
platforms = ["facebook"]
actions = ["view", "post", "upload", "message"]

[[user]]
id = "$LAB_USER"
name = "Benchmark User"
agency = "LAB"
roles = ["lab-social"]
password_bcrypt = "$hash"
acknowledged_on = 2026-01-01
EOF

/tmp/smgate-bench check --config "$DIR/smgate.toml"

targets=(--add-proxy-cmd smgate "127.0.0.1:$PORT" "/tmp/smgate-bench serve --config $DIR/smgate.toml")
if [ "$GMP2" = 1 ]; then
	targets+=(--add-proxy-cmd smgate-gomaxprocs2 "127.0.0.1:$((PORT + 10))"
		"env GOMAXPROCS=2 /tmp/smgate-bench serve --config $DIR/smgate-gmp2.toml")
fi
# A server left running on a port the run uses (a hand measurement's)
# would answer in place of the one the lab starts, which then fails to
# bind: the figures would be the old one's. Refuse instead.
for p in "$PORT" "$((PORT + 1))" "$((PORT + 2))" 18080 18443; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "bench-lab: 127.0.0.1:$p is already in use; stop what listens there first" >&2
		exit 1
	fi
done

exec flock /tmp/smgate-lab.lock "$LAB/run.sh" --only http "${targets[@]}" \
	--proxy-auth "$LAB_USER:$LAB_PASS" "$@"
