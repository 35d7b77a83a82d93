#!/bin/bash
# The portal rush of issue 17, measured as in docs/PERFORMANCE.md « Final
# build on a quiet machine »: one command, one table.
#
#   scripts/rush-bench.sh BIN [RUN...]
#
# BIN is a built tartine binary (server and load generators). RUN, in order
# (default: setup P200 P200T P200b LOGIN):
#   setup  a fresh tenant: a new database in $WORK/pg with the taps tenant
#          (loadgen taps --setup --devices 16 --pupils 2000) and the portal
#          tenant (loadgen portal --setup --parents 200), copied to
#          $WORK/pg.fresh; every other run starts from a copy of it
#   P200   200 parents looping for 30 s
#   P200T  200 parents for 40 s, and from 14 s in taps at 1,000/s (open
#          loop, 16 devices, another process): 2 s not measured
#          (TAPS_WARMUP, "0s" for a cold start), then 20 s
#   P200b  200 parents for 30 s again
#   T      taps alone at 1,000/s, the same 2 s + 20 s (the floor P200T is
#          compared to)
#   LOGIN  200 simultaneous logins, one attempt each, server's peak RSS
# Each run: a fresh copy of the data, the server on 127.0.0.1:$PORT with
# TARTINE_TRUSTED_PROXIES=127.0.0.1 (each parent from its own address),
# the load, the server stopped, `tartine verify`. It prints one table line
# per run (p99 in ms), then the raw JSON reports are in $WORK/res-*.json
# (the taps' in taps-*.json, one line per tap request in req-*.txt).
#
# Environment: WORK (default /tmp/rush-bench), PORT (default 18181),
# SRVENV (extra environment of the server, e.g. "GOGC=100"), TAG (a label
# added to the file names and lines, for A/B runs of two builds).
#
# A/B of two builds in the same minutes, on the same prepared data:
#   scripts/rush-bench.sh /tmp/old/tartine setup
#   for i in 1 2; do TAG=old scripts/rush-bench.sh /tmp/old/tartine P200T
#                    TAG=new scripts/rush-bench.sh /tmp/new/tartine P200T; done
set -eu
BIN=$(realpath "$1"); shift
RUNS=${*:-setup P200 P200T P200b LOGIN}
WORK=${WORK:-/tmp/rush-bench}
PORT=${PORT:-18181}
TAG=${TAG:-}
URL=http://127.0.0.1:$PORT
mkdir -p "$WORK"

load() { cut -d' ' -f1 /proc/loadavg; }

setup() {
	rm -rf "$WORK/pg" "$WORK/pg.fresh"
	"$BIN" loadgen taps --setup --devices 16 --pupils 2000 --data-dir "$WORK/pg" --file "$WORK/loadgen.json" > "$WORK/setup.log" 2>&1
	"$BIN" loadgen portal --setup --parents 200 --data-dir "$WORK/pg" --file "$WORK/portalgen.json" >> "$WORK/setup.log" 2>&1
	mv "$WORK/pg" "$WORK/pg.fresh"
	echo "setup: fresh tenant in $WORK/pg.fresh (16 devices, 2,000 pupils; 200 parents)"
}

# run NAME: one measured run (see above); prints its line.
run() {
	local name=$1 lab=$1${TAG:+-$TAG}
	local d=$WORK/run-$lab
	rm -rf "$d"; cp -a "$WORK/pg.fresh" "$d"
	# Dirty pages of the copy written back during the run would delay
	# PostgreSQL's fsyncs.
	sync; sleep 2
	rm -f "$WORK/pid-$lab" "$WORK/cpu-$lab"
	bash -c 'env TARTINE_TRUSTED_PROXIES=127.0.0.1 ${SRVENV:-} "$0" serve --addr "$1" --data-dir "$2" > "$3/serve-$4.log" 2>&1 & P=$!; echo $P > "$3/pid-$4"; wait $P; times > "$3/cpu-$4"' \
		"$BIN" "127.0.0.1:$PORT" "$d" "$WORK" "$lab" &
	local w=$!
	for _ in $(seq 1 120); do curl -sf "$URL/healthz" > /dev/null && break; sleep 0.5; done
	curl -sf "$URL/healthz" > /dev/null || { echo "$lab: server did not start (see $WORK/serve-$lab.log)"; kill "$(cat "$WORK/pid-$lab")" 2>/dev/null; wait $w || true; return 1; }
	local pid l0 l1
	pid=$(cat "$WORK/pid-$lab")
	l0=$(load)
	rm -f "$WORK/res-$lab.json" "$WORK/taps-$lab.json"
	case $name in
	P200 | P200b)
		"$BIN" loadgen portal --url "$URL" --file "$WORK/portalgen.json" --parents 200 --duration 30s --pid "$pid" --json > "$WORK/res-$lab.json" 2> "$WORK/lg-$lab.err" ;;
	P200T)
		"$BIN" loadgen portal --url "$URL" --file "$WORK/portalgen.json" --parents 200 --duration 40s --pid "$pid" --json > "$WORK/res-$lab.json" 2> "$WORK/lg-$lab.err" &
		local lg=$!
		sleep 14
		date +%s.%N > "$WORK/t0-$lab" # the taps' start, for lining up the server's logs
		"$BIN" loadgen taps --url "$URL" --file "$WORK/loadgen.json" --devices 16 --rate 1000 --warmup ${TAPS_WARMUP:-2s} --duration 20s --json --requests "$WORK/req-$lab.txt" > "$WORK/taps-$lab.json" 2> "$WORK/lgt-$lab.err"
		wait $lg ;;
	T)
		"$BIN" loadgen taps --url "$URL" --file "$WORK/loadgen.json" --devices 16 --rate 1000 --warmup ${TAPS_WARMUP:-2s} --duration 20s --json --requests "$WORK/req-$lab.txt" > "$WORK/taps-$lab.json" 2> "$WORK/lgt-$lab.err" ;;
	LOGIN)
		"$BIN" loadgen portal --url "$URL" --file "$WORK/portalgen.json" --parents 200 --login-only --pid "$pid" --json > "$WORK/res-$lab.json" 2> "$WORK/lg-$lab.err" ;;
	*) echo "unknown run $name"; kill "$pid"; wait $w || true; return 2 ;;
	esac
	l1=$(load)
	kill "$pid"; wait $w || true
	local v
	v=$("$BIN" verify --data-dir "$d" 2>&1 | grep "^verify:" | cut -c1-40 || true)
	rm -rf "$d"
	python3 - "$WORK" "$name" "$lab" "$l0" "$l1" "$(tail -1 "$WORK/cpu-$lab")" "$v" <<'PY'
import json, os, re, sys
work, name, lab, l0, l1, cpu, v = sys.argv[1:]
r = json.load(open(f"{work}/res-{lab}.json"))["portal"] if name != "T" else {"requests_per_s": 0, "failures": 0, "requests": 1}
def secs(s):
    m = re.match(r"(\d+)m([\d.]+)s", s)
    return int(m[1]) * 60 + float(m[2])
u, s = [secs(x) for x in cpu.split()]
t = r.get("types", {})
def p99(k):
    return f"{t[k]['p99_ms']:,.0f}" if k in t else "—"
shed = sum(x.get("shed", 0) for x in t.values())
label = {"P200": "200 parents, 30 s", "P200b": "200 parents, 30 s (again)",
         "P200T": "200 parents, 40 s + taps from 14 s for 20 s", "LOGIN": "200 logins at once", "T": "taps alone, 20 s"}[name]
if name == "LOGIN":
    lp = t.get("login", {})
    print(f"| {label} [{lab}] | {l0} → {l1} | every login answered within {r['login_max_s']:.2f} s: p99 {lp.get('p99_ms', 0):,.0f} ms, "
          f"{lp.get('shed', 0)} « réessayez »; server peak RSS {r.get('server_peak_rss_mb', 0):.0f} MB (lifetime {r.get('server_hwm_mb', 0):.0f}) | {v} |")
    sys.exit()
taps = "—"
tf = f"{work}/taps-{lab}.json"
if os.path.exists(tf):
    tp = json.load(open(tf))
    taps = f"{tp['taps_per_s']:,.0f}/s, p50 {tp['p50_ms']:.1f}, **p99 {tp['p99_ms']:.1f}**, {tp['errors']} errors"
    if "request_p99_ms" in tp:  # the requests' own round trips, the generator's own delay in sending
        taps += f" (requests p99 {tp['request_p99_ms']:.1f}, generator's delay p99 {tp.get('send_late_p99_ms', 0):.1f})"
lp = r.get("login_phase") or {}
print(f"| {label} [{lab}] | {l0} → {l1} | {r['requests_per_s']:,.0f} | {p99('home')} | {p99('bookings')} | {p99('book')} | "
      f"{p99('cancel')} | {p99('history')} | {taps} | {r['failures']} failures, {shed} shed; CPU/request {(u + s) / max(r['requests'], 1) * 1000:.2f} ms; "
      f"logins p99 {lp.get('p99_ms', 0):,.0f} ms | {v} |")
PY
}

echo "$(date -u +%FT%TZ) $BIN${TAG:+ ($TAG)} — uptime: $(uptime)"
echo "| run | load at start → end | requests/s | home | bookings page | book | cancel | history | taps at 1,000/s | notes | verify |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for r in $RUNS; do
	if [ "$r" = setup ]; then setup; else run "$r"; fi
done
