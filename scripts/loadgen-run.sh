#!/bin/bash
# One measured run of `tartine loadgen taps` against a fresh copy of a
# prepared database (docs/PERFORMANCE.md, terminal section):
#
#   scripts/loadgen-run.sh BIN LABEL [BATCH] [DEVICES]
#
# BIN is a built tartine binary (server and load generator). Before the first
# run, prepare the database once:
#
#   BIN loadgen taps --setup --devices 16 --pupils 2000 --data-dir $WORK/pg --file $WORK/loadgen.json
#   cp -a $WORK/pg $WORK/pg.fresh; sync
#
# Environment: WORK (default /tmp/tartine-perf), FRESH (the database copied
# for each run, default $WORK/pg.fresh), LGFILE (default $WORK/loadgen.json),
# DUR (measured duration, default 20s), WARM (warm-up), RATE (open loop:
# taps/s offered; BATCH is then the most taps per request), SRVENV (extra
# environment of the server, e.g. GOMAXPROCS=1).
#
# Prints one line: taps/s, latency p50/p99 (per request, or per tap in the
# open loop), errors, CPU per tap of the server and its PostgreSQL (user +
# system of the server process and its reaped children), the load average
# before and after, and what `tartine verify` said after the run.
set -eu
BIN=$1; LABEL=$2; BATCH=${3:-0}; DEV=${4:-16}
WORK=${WORK:-/tmp/tartine-perf}
FRESH=${FRESH:-$WORK/pg.fresh}
LGFILE=${LGFILE:-$WORK/loadgen.json}
ADDR=127.0.0.1:18191
D=$WORK/run-$LABEL
rm -rf "$D"; cp -a "$FRESH" "$D"
# Copy, then sync: dirty pages written back during the run delay
# PostgreSQL's fsyncs.
sync; sleep 2
bash -c 'env ${SRVENV:-X=1} "$0" serve --addr "$1" --data-dir "$2" > "$3/serve-$4.log" 2>&1 & P=$!; echo $P > "$3/pid-$4"; wait $P; times > "$3/cpu-$4"' \
	"$BIN" "$ADDR" "$D" "$WORK" "$LABEL" &
W=$!
for _ in $(seq 1 60); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.5; done
L0=$(cut -d' ' -f1 /proc/loadavg)
"$BIN" loadgen taps --url "http://$ADDR" --devices "$DEV" --duration "${DUR:-20s}" --batch "$BATCH" \
	${RATE:+--rate "$RATE"} ${WARM:+--warmup "$WARM"} --json --file "$LGFILE" > "$WORK/res-$LABEL.json" 2> "$WORK/lg-$LABEL.err"
L1=$(cut -d' ' -f1 /proc/loadavg)
kill "$(cat "$WORK/pid-$LABEL")"; wait $W || true
V=$("$BIN" verify --data-dir "$D" 2>&1 | grep -i verif | tail -1)
rm -rf "$D"
python3 - "$WORK" "$LABEL" "$L0" "$L1" "$(tail -1 "$WORK/cpu-$LABEL")" "$V" <<'PY'
import json, re, sys
work, lab, l0, l1, cpu, v = sys.argv[1:]
r = json.load(open(f"{work}/res-{lab}.json"))
def secs(s):
    m = re.match(r"(\d+)m([\d.]+)s", s)
    return int(m[1]) * 60 + float(m[2])
u, s = [secs(x) for x in cpu.split()]
mode = f"open loop {r['rate']:.0f}/s" if r.get("rate") else f"batch {r['batch']}"
print(f"{lab}: {r['devices']} devices, {mode}: {r['taps_per_s']:.0f} taps/s, per {r['latency']} p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms, "
      f"errors {r['errors']}, backlog {r.get('backlog', 0)} | CPU/tap {(u + s) / r['taps'] * 1000:.2f} ms | load {l0} -> {l1} | {v[:70]}")
PY
