#!/usr/bin/env bash
# Measures smgate's DNS filter in the side-by-side benchmark lab
# (/work/shared/bench/run.sh --only dns) against the direct upstream and the
# lab's DNS peers (upstream@sut, dnsmasq, unbound, coredns, dns-min,
# dns-min-cache) in one run, with the policy decision and the usage log on
# the measured path, as a deployment has them.
#
#   scripts/bench-lab-dns.sh            # full DNS half of the lab (3 x 5 s per figure)
#   scripts/bench-lab-dns.sh --quick    # 1 x 2 s per figure, to try a change
#   scripts/bench-lab-dns.sh --out DIR  # any further option goes to run.sh
#
# What dnsperf asks (the lab's dns/ folder and run.sh): from 127.0.0.1, the
# cached figure loops over the 33 names of dns/names.txt, A and AAAA; the
# uncached figure sends unique names qN.<rep>-<target>.u.facebook.com A.
# Here 127.0.0.1 is bound to user "bench" (acknowledged) whose role grants
# every platform those names belong to, except TikTok, which the shipped
# catalogue bans. So:
#   cached:   56 of 66 questions are social-media names, decided and
#             written to the usage log on every query: 52 allowed-grant,
#             4 (tiktok.com, www.tiktok.com) blocked-platform-banned;
#             10 (notfacebook.com, example.gov, ...) are not social media:
#             answered from the cache without a decision record
#             (dns.log_not_social is off, the default).
#   uncached: every question is a Facebook name: decided, forwarded to the
#             lab upstream (127.0.0.1:15300), recorded.
# dns.block_answer is "sinkhole" so that the banned names get a NOERROR
# answer (the sinkhole address) and dnsperf's error count stays a count of
# real failures; nxdomain mode costs the same. The usage log is the real
# writer (hash chain, group commit, fsync) in $DIR/logs on the local disk.
# After the run the usage log's records are counted by reason.
#
# Only one lab run at a time on a machine: the run holds /tmp/smgate-lab.lock.
# Everything stays on loopback. Environment: SMGATE_LAB_DIR (default
# /tmp/smgate-lab-dns), SMGATE_LAB_DNS_PORT (default 18230; the admin
# listener takes the next port), BENCH_LAB (default /work/shared/bench).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB=${BENCH_LAB:-/work/shared/bench}
DIR=${SMGATE_LAB_DIR:-/tmp/smgate-lab-dns}
PORT=${SMGATE_LAB_DNS_PORT:-18230}
BIN=/tmp/smgate-dnsbench
export PATH="/usr/local/go/bin:$PATH"
cd "$ROOT"

go build -o "$BIN" ./cmd/smgate
rm -rf "$DIR"
mkdir -p "$DIR"
cp configs/platforms.toml "$DIR/platforms.toml"

# gateway_config NAME PORT: $DIR/NAME.toml, with its own data and log
# directories (a usage log has one writer), the DNS filter on PORT and the
# admin listener on PORT+1.
gateway_config() {
	cat > "$DIR/$1.toml" <<EOF
[gateway]
name = "gw-lab-$1"
timezone = "UTC"
data_dir = "$DIR/$1/var"
mode = "enforce"

[dns]
listen = "127.0.0.1:$2"
block_answer = "sinkhole"
sinkhole_ipv4 = "192.0.2.1"
sinkhole_ipv6 = "2001:db8::1"

[resolver]
upstreams = ["127.0.0.1:15300"]      # the lab's upstream (dnsup)
timeout = "2s"

[admin]
listen = "127.0.0.1:$(($2 + 1))"

[logs]
dir = "$DIR/$1/logs"

[policy]
platforms = "platforms.toml"
registry = "registry.toml"
directory = "directory.toml"
EOF
}
gateway_config smgate "$PORT"

cat > "$DIR/registry.toml" <<'EOF'
# no approved accounts: the lab user has platform-level grants
EOF

cat > "$DIR/directory.toml" <<'EOF'
[[agency]]
id = "LAB"
name = "Benchmark Lab"

[[role]]
id = "lab-social"
agency = "LAB"
platforms = ["facebook", "instagram", "threads", "x", "linkedin", "youtube",
             "reddit", "pinterest", "snapchat", "bluesky"]
actions = ["view"]

[[user]]
id = "bench"
name = "Benchmark User"
agency = "LAB"
roles = ["lab-social"]
ips = ["127.0.0.1"]                  # dnsperf's source address
acknowledged_on = 2026-01-01
EOF

"$BIN" check --config "$DIR/smgate.toml"

# serve runs with Go's own GOMAXPROCS (1 when pinned to one CPU): the
# usage-log writer waits for its fsync in the network poller
# (logs/asyncsync_linux.go), so an fsync no longer holds the only P and
# stalls the filter, as it did before (about a tenth of the throughput
# when most names are social media).
# A server left running on a port the run uses (a hand measurement's)
# would answer in place of the one the lab starts, which then fails to
# bind: the figures would be the old one's. Refuse instead.
for p in "$PORT" "$((PORT + 1))" 15300; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "bench-lab: 127.0.0.1:$p is already in use; stop what listens there first" >&2
		exit 1
	fi
done

flock /tmp/smgate-lab.lock "$LAB/run.sh" --only dns \
	--add-dns-cmd smgate "127.0.0.1:$PORT" "$BIN serve --config $DIR/smgate.toml" \
	"$@"

for t in smgate; do
	echo "$t: usage-log records by event.reason ($DIR/$t/logs):"
	cat "$DIR/$t"/logs/usage-*.jsonl | grep -o '"event.reason":"[a-z-]*"' | sort | uniq -c
done
