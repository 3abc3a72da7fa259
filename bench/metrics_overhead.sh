#!/usr/bin/env bash
# What metrics cost: the same release build with metrics on and off (metrics_enabled=false),
# side by side in one run (issue 12, "Performance").
#
#   bench/metrics_overhead.sh         (run by ./dev bench after building the release preset)
#
# Starts two stacks on free ports, each a private RabbitMQ node, an accountservice and a
# vipservice (offer_cooldown 0: every notification is an offer): stack "on" with the default
# metrics_enabled=true, stack "off" with metrics_enabled=false (the registry hands out inert
# instruments, the router times nothing, GET /metrics answers 404: checked at start). Then
# METRICS_ROUNDS rounds; each loads both stacks AT ONCE, so that whatever else the shared, noisy
# machine runs falls on both alike (the one started a moment first alternates):
#
#   (a) plain reads: `wrk -t2 -cPLAIN_CONNECTIONS -dPLAIN_DURATION` on GET /accounts/10001 (not a
#       VIP: no outbox, no broker) of each stack's accountservice; req/s.
#   (b) the VIP flow: `paced_http_load` at VIP_RATE reads/s for VIP_SECONDS s on GET
#       /accounts/10000 (a VIP) of each stack, then until each vipservice has logged a delivery
#       ("Got a message") for every read its stack answered; the on-CPU time (user + system,
#       every thread, from /proc/PID/task/*/schedstat, in ns) of the stack's accountservice,
#       vipservice and RabbitMQ over the load and the drain, per answered read.
#
# All through, every service is scraped (GET /metrics) every 5 s, as ./dev run's Prometheus does.
#
# Halfway through, both stacks are restarted with the brokers swapped (new ports and data dirs
# too), so that over the run nothing but metrics_enabled tells the sides apart.
#
# Each round prints a progress line. Results: the median req/s of each side and the median of
# the per-round ratios on / off (target ≥ 0.97); the median CPU per notification of each side and
# the median of the per-round ratios (target ≤ 1.03); the same CPU ratio from the totals over all
# rounds in clock ticks (/proc/PID/stat), which also counts threads that ended; the machine's
# busy and steal shares (/proc/stat) over each measurement. Writes the "Metrics overhead"
# section of docs/benchmarks.md. Tracing (W3C trace context) stays on in both stacks: it has no
# switch.
#
# Environment: ACCOUNTSERVICE_BIN, VIPSERVICE_BIN (build/release/bin/…), METRICS_BENCH_BUILD_DIR
# (build/bench, for paced_http_load; configured with `cmake --preset bench` when absent),
# METRICS_ROUNDS (16), PLAIN_DURATION (4s), PLAIN_CONNECTIONS (50), VIP_RATE (500), VIP_SECONDS
# (5), BENCH_DOC (docs/benchmarks.md), BUILD_JOBS (2), KEEP_WORK (set: keep the logs in /tmp).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ACCOUNT_BIN=${ACCOUNTSERVICE_BIN:-$ROOT/build/release/bin/accountservice}
VIP_BIN=${VIPSERVICE_BIN:-$ROOT/build/release/bin/vipservice}
BUILD_DIR=${METRICS_BENCH_BUILD_DIR:-$ROOT/build/bench}
ROUNDS=${METRICS_ROUNDS:-16}
PLAIN_DURATION=${PLAIN_DURATION:-4s}
PLAIN_CONNECTIONS=${PLAIN_CONNECTIONS:-50}
VIP_RATE=${VIP_RATE:-500}
VIP_SECONDS=${VIP_SECONDS:-5}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
JOBS=${BUILD_JOBS:-2}
RABBIT_DIR_BENCH=$ROOT/.run/bench-metrics-rabbitmq
PLAIN_ACCOUNT=10001
VIP_ACCOUNT=10000
TARGET_READS=0.97
TARGET_CPU=1.03

# shellcheck source=bench/bench-lib.bash
. "$ROOT/bench/bench-lib.bash"

[ -x "$ACCOUNT_BIN" ] || die "$ACCOUNT_BIN not found; build it first: ./dev build release"
[ -x "$VIP_BIN" ] || die "$VIP_BIN not found; build it first: ./dev build release"
ACCOUNT_BIN=$(readlink -f "$ACCOUNT_BIN") VIP_BIN=$(readlink -f "$VIP_BIN")
command -v wrk >/dev/null || die "wrk is missing; install it with: apt-get install -y wrk"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "METRICS_ROUNDS must be a positive number, not '$ROUNDS'"

configure_bench_build "$BUILD_DIR"
say "building paced_http_load in $BUILD_DIR"
cmake --build "$BUILD_DIR" --parallel "$JOBS" --target paced_http_load >&2 ||
  die "paced_http_load did not build"
LOAD_BIN=$BUILD_DIR/bin/paced_http_load

WORK=$(mktemp -d /tmp/cppblog-bench-metrics.XXXXXX)
mkdir -p "$WORK/no-config"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  RABBIT_DIR=$RABBIT_DIR_BENCH-on "$ROOT/dev" rabbit stop >/dev/null 2>&1 || true
  RABBIT_DIR=$RABBIT_DIR_BENCH-off "$ROOT/dev" rabbit stop >/dev/null 2>&1 || true
  if [ -n "${KEEP_WORK:-}" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT


# --- the brokers and the two stacks ----------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$SECONDS
declare -A URL BROKER_PID ACC_PID ACC_PORT VIP_PID VIP_PORT VIP_LOG
start_broker() {  # on|off
  local dir=$RABBIT_DIR_BENCH-$1
  say "starting a private RabbitMQ node for stack $1 (${dir#"$ROOT"/})"
  RABBIT_DIR=$dir RABBIT_MANAGEMENT=0 "$ROOT/dev" rabbit start >/dev/null 2>&1 ||
    RABBIT_DIR=$dir RABBIT_MANAGEMENT=0 "$ROOT/dev" rabbit start >/dev/null ||
    die "the private RabbitMQ node did not start; see $dir/log/"
  # shellcheck disable=SC1091
  URL[$1]=$(. "$dir/node.env" && echo "$AMQP_URL")
  BROKER_PID[$1]=$(cat "$dir/node.pid")
}
start_broker on
start_broker off
RABBIT_VERSION=$(RABBIT_DIR=$RABBIT_DIR_BENCH-on "$ROOT/dev" rabbit ctl -q version 2>/dev/null || echo unknown)
SCHEDULERS=$(rabbit_schedulers "$RABBIT_DIR_BENCH-on")

start_stack() {  # on|off
  local side=$1 enabled=true port log
  [ "$side" = off ] && enabled=false
  port=$(free_port) log=$WORK/accountservice-$side-$GENERATION.log
  (cd "$WORK" && exec "$ACCOUNT_BIN" --config-dir "$WORK/no-config" --set "server_port=$port" \
    --set "data_dir=$WORK/accountservice-$side-$GENERATION" --set "amqp_server_url=${URL[$side]}" \
    --set "vip_accounts=$VIP_ACCOUNT" --set "metrics_enabled=$enabled") 2>"$log" >&2 &
  ACC_PID[$side]=$! ACC_PORT[$side]=$port
  PIDS+=($!)
  wait_healthy "accountservice ($side)" "$port" "${ACC_PID[$side]}" "$log"
  port=$(free_port) log=$WORK/vipservice-$side-$GENERATION.log
  (cd "$WORK" && exec "$VIP_BIN" --config-dir "$WORK/no-config" --set "server_port=$port" \
    --set "data_dir=$WORK/vipservice-$side-$GENERATION" --set "amqp_server_url=${URL[$side]}" \
    --set offer_cooldown=0 --set "metrics_enabled=$enabled") 2>"$log" >&2 &
  VIP_PID[$side]=$! VIP_PORT[$side]=$port VIP_LOG[$side]=$log
  PIDS+=($!)
  wait_healthy "vipservice ($side)" "$port" "${VIP_PID[$side]}" "$log"
  # The switch took: /metrics serves the text format on one stack and 404 on the other.
  local want=200 got
  [ "$side" = off ] && want=404
  for port in "${ACC_PORT[$side]}" "${VIP_PORT[$side]}"; do
    got=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")
    [ "$got" = "$want" ] || die "GET /metrics on :$port ($side) answered $got, not $want"
  done
  say "stack $side: accountservice pid ${ACC_PID[$side]} :${ACC_PORT[$side]}, vipservice pid ${VIP_PID[$side]} :${VIP_PORT[$side]}, RabbitMQ pid ${BROKER_PID[$side]}, metrics_enabled=$enabled"
}
GENERATION=1
start_stack on
start_stack off

# --- measuring -------------------------------------------------------------------------------------
# On-CPU nanoseconds (user + system) of the processes' current threads.
cpu_ns() {  # PID...
  local pid total=0 t
  for pid in "$@"; do
    t=$(cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
delivered() { grep -c "Got a message" "${VIP_LOG[$1]}" || true; }
share() { machine_share "$1" "$2" | awk '{ print $1, $3 }'; }  # "busy steal"
# Clock ticks (/proc/PID/stat: user + system, ended threads too) of a stack's three processes.
stack_ticks() { process_ticks "${ACC_PID[$1]}" "${VIP_PID[$1]}" "${BROKER_PID[$1]}"; }

# Both stacks at once, FIRST started a moment before the other. Sets P_RPS[on|off], P_BUSY,
# P_STEAL (globals, not output: a die here must end the script).
declare -A P_RPS P_US
run_plain() {  # FIRST SECOND
  local before after side out errors requests
  declare -A c0
  for side in "$@"; do c0[$side]=$(cpu_ns "${ACC_PID[$side]}"); done
  before=$(machine_ticks)
  local loads=()
  for side in "$@"; do
    wrk -t2 -c"$PLAIN_CONNECTIONS" -d"$PLAIN_DURATION" \
      "http://127.0.0.1:${ACC_PORT[$side]}/accounts/$PLAIN_ACCOUNT" >"$WORK/wrk-$side.out" 2>&1 &
    loads+=($!)
  done
  wait "${loads[@]}" || true  # not a bare wait: the services are children too
  after=$(machine_ticks)
  for side in "$@"; do c0[$side]=$(($(cpu_ns "${ACC_PID[$side]}") - c0[$side])); done
  for side in "$@"; do
    out=$(cat "$WORK/wrk-$side.out")
    errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
    [ -z "$errors" ] || say "plain reads ($side): $errors"
    P_RPS[$side]=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    [ -n "${P_RPS[$side]}" ] || die "wrk printed no Requests/sec ($side): $out"
    requests=$(awk '/ requests in / { print $1 }' <<<"$out")
    P_US[$side]=$(awk -v c="${c0[$side]}" -v n="$requests" 'BEGIN { printf "%.2f", c / n / 1000 }')
  done
  read -r P_BUSY P_STEAL < <(share "$before" "$after")
}

# Both stacks at once. Sets V_US[side] (per notification: accountservice + vipservice +
# RabbitMQ), V_ACC, V_VIP, V_BRK, V_OK (answered reads), V_TICKS (clock ticks, the three), and
# V_BUSY, V_STEAL.
declare -A V_US V_ACC V_VIP V_BRK V_OK V_TICKS
run_vip() {  # FIRST SECOND
  local side before_m after_m out ok now deadline last quiet pending
  declare -A d0 a0 v0 b0 t0
  for side in "$@"; do
    d0[$side]=$(delivered "$side")
    a0[$side]=$(cpu_ns "${ACC_PID[$side]}") v0[$side]=$(cpu_ns "${VIP_PID[$side]}")
    b0[$side]=$(cpu_ns "${BROKER_PID[$side]}") t0[$side]=$(stack_ticks "$side")
  done
  before_m=$(machine_ticks)
  local loads=()
  for side in "$@"; do
    "$LOAD_BIN" --port "${ACC_PORT[$side]}" --path "/accounts/$VIP_ACCOUNT" --rate "$VIP_RATE" \
      --duration "$VIP_SECONDS" --connections 16 >"$WORK/load-$side.out" 2>&1 &
    loads+=($!)
  done
  wait "${loads[@]}" || true
  for side in "$@"; do
    out=$(cat "$WORK/load-$side.out")
    ok=$(sed -n 's/.*\bok=\([0-9]*\).*/\1/p' <<<"$out")
    if [ -z "$ok" ] || [ "$ok" -eq 0 ]; then die "no VIP read answered ($side): $out"; fi
    grep -q ' errors=0' <<<"$out" || say "VIP reads ($side) had errors: $out"
    V_OK[$side]=$ok
  done
  # The drain: every answered read delivered, on both; give up after nothing new for 20 s.
  deadline=$((SECONDS + 120)) last=-1 quiet=$SECONDS
  while :; do
    pending=0
    for side in "$@"; do
      now=$(($(delivered "$side") - d0[$side]))
      [ "$now" -ge "${V_OK[$side]}" ] || pending=$((pending + V_OK[$side] - now))
    done
    [ "$pending" -eq 0 ] && break
    [ "$pending" != "$last" ] && { last=$pending; quiet=$SECONDS; }
    if [ $((SECONDS - quiet)) -ge 20 ] || [ $SECONDS -ge $deadline ]; then
      die "$pending VIP notifications did not reach the vipservices; logs in $WORK"
    fi
    sleep 0.05
  done
  after_m=$(machine_ticks)
  for side in "$@"; do
    local us acc vip brk
    read -r us acc vip brk < <(awk \
      -v a=$(($(cpu_ns "${ACC_PID[$side]}") - a0[$side])) -v v=$(($(cpu_ns "${VIP_PID[$side]}") - v0[$side])) \
      -v b=$(($(cpu_ns "${BROKER_PID[$side]}") - b0[$side])) -v n="${V_OK[$side]}" \
      'BEGIN { printf "%.1f %.1f %.1f %.1f\n", (a + v + b) / n / 1000, a / n / 1000, v / n / 1000, b / n / 1000 }')
    V_US[$side]=$us V_ACC[$side]=$acc V_VIP[$side]=$vip V_BRK[$side]=$brk
    V_TICKS[$side]=$(($(stack_ticks "$side") - t0[$side]))
  done
  read -r V_BUSY V_STEAL < <(share "$before_m" "$after_m")
}

# Prometheus's part: every 5 s (./dev run's scrape interval), GET /metrics of every service of
# both stacks (the off stack answers 404), as a scraper would; until the stacks are restarted.
SCRAPER=""
start_scraper() {
  (while :; do
    for port in "${ACC_PORT[on]}" "${VIP_PORT[on]}" "${ACC_PORT[off]}" "${VIP_PORT[off]}"; do
      curl -s -o /dev/null "http://127.0.0.1:$port/metrics" || true
    done
    sleep 5
  done) &
  SCRAPER=$!
  PIDS+=("$SCRAPER")
}
# A short plain and VIP load on each stack (page faults, first series, connections).
warm_up() {
  local side
  for side in on off; do
    wrk -t2 -c"$PLAIN_CONNECTIONS" -d1s "http://127.0.0.1:${ACC_PORT[$side]}/accounts/$PLAIN_ACCOUNT" >/dev/null
    "$LOAD_BIN" --port "${ACC_PORT[$side]}" --path "/accounts/$VIP_ACCOUNT" --rate "$VIP_RATE" \
      --duration 1 --connections 16 >/dev/null || true
  done
  sleep 1
}
# Halfway: both stacks restarted with the brokers swapped (and new ports, data dirs), so that
# nothing but metrics_enabled tells the two sides apart over the whole run.
swap_brokers() {
  local p
  kill -TERM "$SCRAPER" 2>/dev/null || true
  for p in "${ACC_PID[on]}" "${VIP_PID[on]}" "${ACC_PID[off]}" "${VIP_PID[off]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$SCRAPER" "${ACC_PID[on]}" "${VIP_PID[on]}" "${ACC_PID[off]}" "${VIP_PID[off]}"; do wait "$p" 2>/dev/null || true; done
  p=${URL[on]} URL[on]=${URL[off]} URL[off]=$p
  p=${BROKER_PID[on]} BROKER_PID[on]=${BROKER_PID[off]} BROKER_PID[off]=$p
  GENERATION=2
  say "restarting both stacks with the brokers swapped"
  start_stack on
  start_stack off
  start_scraper
  warm_up
}
start_scraper
warm_up

declare -A RPS READ_US CPU ACC VIPS BRK TICKS NOTIFICATIONS
PBUSY="" PSTEAL="" VBUSY="" VSTEAL=""
for side in on off; do RPS[$side]="" READ_US[$side]="" CPU[$side]="" ACC[$side]="" VIPS[$side]="" BRK[$side]="" TICKS[$side]=0 NOTIFICATIONS[$side]=0; done
READ_RATIOS=() READ_CPU_RATIOS=() CPU_RATIOS=()
for round in $(seq 1 "$ROUNDS"); do
  [ "$round" = $((ROUNDS / 2 + 1)) ] && [ "$ROUNDS" -ge 2 ] && swap_brokers
  order="on off"
  [ $((round % 2)) = 0 ] && order="off on"
  # shellcheck disable=SC2086  # two words on purpose
  run_plain $order
  PBUSY+="$P_BUSY " PSTEAL+="$P_STEAL "
  # shellcheck disable=SC2086
  run_vip $order
  VBUSY+="$V_BUSY " VSTEAL+="$V_STEAL "
  for side in on off; do
    RPS[$side]+="${P_RPS[$side]} " READ_US[$side]+="${P_US[$side]} "
    CPU[$side]+="${V_US[$side]} " ACC[$side]+="${V_ACC[$side]} " VIPS[$side]+="${V_VIP[$side]} " BRK[$side]+="${V_BRK[$side]} "
    TICKS[$side]=$((TICKS[$side] + V_TICKS[$side])) NOTIFICATIONS[$side]=$((NOTIFICATIONS[$side] + V_OK[$side]))
  done
  READ_RATIOS+=("$(awk -v a="${P_RPS[on]}" -v b="${P_RPS[off]}" 'BEGIN { printf "%.3f", a / b }')")
  READ_CPU_RATIOS+=("$(awk -v a="${P_US[on]}" -v b="${P_US[off]}" 'BEGIN { printf "%.3f", a / b }')")
  CPU_RATIOS+=("$(awk -v a="${V_US[on]}" -v b="${V_US[off]}" 'BEGIN { printf "%.3f", a / b }')")
  say "round $round/$ROUNDS: plain reads on $(fmt_rps "${P_RPS[on]}") / off $(fmt_rps "${P_RPS[off]}") req/s = ${READ_RATIOS[-1]}, CPU per read ${P_US[on]} / ${P_US[off]} µs = ${READ_CPU_RATIOS[-1]} (busy / steal $P_BUSY / $P_STEAL %); VIP CPU per notification on ${V_US[on]} / off ${V_US[off]} µs = ${CPU_RATIOS[-1]} (${V_OK[on]} / ${V_OK[off]} reads; busy / steal $V_BUSY / $V_STEAL %)"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$((SECONDS - T_START))

# --- results ---------------------------------------------------------------------------------------
# shellcheck disable=SC2086  # $1 is a space-separated list, split on purpose
med() { median $1; }
# shellcheck disable=SC2086
range() { printf '%s\n' $1 | sort -g | sed -n '1p;$p' | paste -sd' ' | sed 's/ / to /'; }
READ_RATIO=$(median "${READ_RATIOS[@]}")
READ_CPU_RATIO=$(median "${READ_CPU_RATIOS[@]}")
# Reads/s at equal CPU: what the ratio of CPU per read says the throughput ratio is.
READ_EQUAL=$(awk -v r="$READ_CPU_RATIO" 'BEGIN { printf "%.3f", 1 / r }')
CPU_RATIO=$(median "${CPU_RATIOS[@]}")
TICK_RATIO=$(awk -v a="${TICKS[on]}" -v na="${NOTIFICATIONS[on]}" -v b="${TICKS[off]}" -v nb="${NOTIFICATIONS[off]}" \
  'BEGIN { if (b <= 0 || na <= 0 || nb <= 0) print "—"; else printf "%.3f", (a / na) / (b / nb) }')
TICK_US() { us_per_request "${TICKS[$1]}" "${NOTIFICATIONS[$1]}"; }
say "plain reads: on $(fmt_rps "$(med "${RPS[on]}")") / off $(fmt_rps "$(med "${RPS[off]}")") req/s, ratio (median of rounds) $READ_RATIO (target ≥ $TARGET_READS); CPU per read ratio $READ_CPU_RATIO: $READ_EQUAL × the reads for the same CPU"
say "VIP CPU per notification: on $(med "${CPU[on]}") / off $(med "${CPU[off]}") µs, ratio $CPU_RATIO (target ≤ $TARGET_CPU); from ticks over all rounds $TICK_RATIO"

CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain -- accountservice vipservice common bench 2>/dev/null | head -n 1)
WHEN=$(date -u '+%Y-%m-%d %H:%M UTC')
COMMAND="\`bench/metrics_overhead.sh\` (one of the benchmarks \`./dev bench\` runs; METRICS_ROUNDS=$ROUNDS PLAIN_DURATION=$PLAIN_DURATION PLAIN_CONNECTIONS=$PLAIN_CONNECTIONS VIP_RATE=$VIP_RATE VIP_SECONDS=$VIP_SECONDS; binaries \`${ACCOUNT_BIN#"$ROOT"/}\`, \`${VIP_BIN#"$ROOT"/}\`)"
rounds_list() {  # "on1 on2 …" "off1 off2 …" [fmt]
  local -a a b
  read -ra a <<<"$1"
  read -ra b <<<"$2"
  local i out=""
  for i in "${!a[@]}"; do out+="${out:+; }$(${3:-echo} "${a[$i]}") / $(${3:-echo} "${b[$i]}")"; done
  echo "$out"
}

section=$(cat <<EOF
<!-- metrics_overhead:begin (written by bench/metrics_overhead.sh; edits here are overwritten) -->
## Metrics overhead: the same build with metrics on and off

Measured $WHEN on $(nproc) cores ($CPU_MODEL), commit $COMMIT${DIRTY:+ (with uncommitted changes)}, by
$COMMAND, in $ELAPSED s. RabbitMQ $RABBIT_VERSION ($SCHEDULERS Erlang scheduler(s)), release builds, fresh
data dirs. Load average before / after: $LOAD_BEFORE / $LOAD_AFTER.

**What is compared.** Two stacks of the same binaries side by side, each its own RabbitMQ node,
accountservice and vipservice (\`offer_cooldown\` 0: every notification is an offer; log level
info): *on* with the default \`metrics_enabled=true\`, *off* with \`metrics_enabled=false\`
(\`METRICS_ENABLED=false\`): the registry hands out inert instruments (every update is a branch
that writes nothing), the HTTP router times no request, \`GET /metrics\` answers 404 (checked at
start). W3C trace context stays on in both: it has no switch. $ROUNDS rounds; in each, both stacks
are loaded **at the same time**, so that whatever else this shared machine runs meanwhile falls
on both alike; halfway through, both stacks are restarted with their brokers swapped (and new
ports and data dirs), so that nothing but \`metrics_enabled\` tells the two sides apart over the
run. The ratios are medians of the per-round ratios. *Plain reads*: \`wrk -t2
-c$PLAIN_CONNECTIONS -d$PLAIN_DURATION\` on \`GET /accounts/$PLAIN_ACCOUNT\` (not a VIP: no outbox, no broker) of each
accountservice, req/s, and the accountservice's on-CPU time per read. The two compete for the
same cores, and on a busy machine which of them the scheduler favours for a few seconds swings a
round's req/s ratio far more than metrics could; CPU per read does not depend on the share each
got, so its ratio is the steadier measure of what metrics cost a read. *VIP flow*: \`paced_http_load\` at $VIP_RATE reads/s for $VIP_SECONDS s on \`GET /accounts/$VIP_ACCOUNT\` (a VIP) of
each stack, until each vipservice has received a notification for every read its stack
answered; on-CPU time (user + system, every thread, \`/proc/PID/task/*/schedstat\`, ns) of the
stack's accountservice, vipservice and RabbitMQ over the load and the drain, per answered read.
All through the run every service is scraped (\`GET /metrics\`) every 5 s, as \`./dev run\`'s
Prometheus does.

| | metrics on | metrics off | on / off | target | |
|---|---:|---:|---:|---|---|
| plain reads, req/s (median) | $(fmt_rps "$(med "${RPS[on]}")") | $(fmt_rps "$(med "${RPS[off]}")") | **$READ_RATIO** | ≥ $TARGET_READS | $(verdict "$READ_RATIO" ">=" "$TARGET_READS") |
| accountservice CPU per plain read, µs (median; user + system, schedstat) | $(med "${READ_US[on]}") | $(med "${READ_US[off]}") | $READ_CPU_RATIO | | |
| &nbsp;&nbsp;so reads/s for the same CPU (off's CPU per read / on's) | | | **$READ_EQUAL** | ≥ $TARGET_READS | $(verdict "$READ_EQUAL" ">=" "$TARGET_READS") |
| VIP flow CPU per notification, µs (median) | $(med "${CPU[on]}") | $(med "${CPU[off]}") | **$CPU_RATIO** | ≤ $TARGET_CPU (within 3 %) | $(verdict "$CPU_RATIO" "<=" "$TARGET_CPU") |
| &nbsp;&nbsp;accountservice | $(med "${ACC[on]}") | $(med "${ACC[off]}") | | | |
| &nbsp;&nbsp;vipservice | $(med "${VIPS[on]}") | $(med "${VIPS[off]}") | | | |
| &nbsp;&nbsp;RabbitMQ | $(med "${BRK[on]}") | $(med "${BRK[off]}") | | | |
| the same from clock ticks (\`/proc/PID/stat\`, all rounds, ended threads too), µs | $(TICK_US on) | $(TICK_US off) | $TICK_RATIO | | |
| VIP reads answered and delivered, all rounds | ${NOTIFICATIONS[on]} | ${NOTIFICATIONS[off]} | | | |

The machine (both stacks, wrk, the load driver and everything else on it), busy / steal share
of all CPU time, median over the rounds (range): plain reads $(med "$PBUSY") / $(med "$PSTEAL") % ($(range "$PBUSY") / $(range "$PSTEAL") %), VIP
flow $(med "$VBUSY") / $(med "$VSTEAL") % ($(range "$VBUSY") / $(range "$VSTEAL") %).

Rounds, on / off: plain req/s $(rounds_list "${RPS[on]}" "${RPS[off]}" fmt_rps); VIP µs per notification
$(rounds_list "${CPU[on]}" "${CPU[off]}"). Per-round ratios: plain reads $(range "${READ_RATIOS[*]}"), CPU per read $(range "${READ_CPU_RATIOS[*]}"), VIP CPU $(range "${CPU_RATIOS[*]}"):
the spread between rounds is the noise of this machine, against which the medians are read.
<!-- metrics_overhead:end -->
EOF
)
write_section metrics_overhead "$section"
say "wrote the metrics overhead section of ${DOC#"$ROOT"/}"
