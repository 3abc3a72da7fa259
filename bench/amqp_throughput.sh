#!/usr/bin/env bash
# AMQP throughput of cppblog's AmqpClient against the raw rabbitmq-c loop, in one run.
#
#   bench/amqp_throughput.sh            (run by ./dev bench)
#
# Builds amqp_raw_bench and amqp_client_bench (preset `bench`, build/bench), starts a private
# RabbitMQ node (.run/bench-rabbitmq, no management plugin) and, ROUNDS times, interleaved
# (the order raw/AmqpClient alternates between rounds):
#   - publish COUNT persistent ~120-byte messages with confirms (window 1000) to a durable queue
#     (AmqpClient twice: with futures and with the callback API);
#   - consume COUNT messages with manual acks at prefetch 100 and at prefetch 1000, the queue
#     filled beforehand by the raw publisher;
# deleting the queue before and after each step. Writes the medians and the ratios
# AmqpClient / raw into the "## AMQP throughput" section of docs/benchmarks.md and stops the
# broker on exit. Figures that could not be measured are reported as missing, never guessed.
#
# Environment: COUNT (100000), ROUNDS (3), BENCH_DOC (docs/benchmarks.md),
# AMQP_BENCH_BUILD_DIR (build/bench; configured with `cmake --preset bench` when absent),
# BUILD_JOBS (2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT=${COUNT:-100000}
ROUNDS=${ROUNDS:-3}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
BUILD_DIR=${AMQP_BENCH_BUILD_DIR:-$ROOT/build/bench}
RABBIT_DIR_BENCH=$ROOT/.run/bench-rabbitmq
QUEUE=cppblog.bench.amqp
WINDOW=1000
JOBS=${BUILD_JOBS:-2}  # the machine is shared: at most two compilers
PREFETCHES=(100 1000)

# shellcheck source=bench/bench-lib.bash
. "$ROOT/bench/bench-lib.bash"

# --- build ----------------------------------------------------------------------------------
configure_bench_build "$BUILD_DIR"
RAW_BIN=$BUILD_DIR/bin/amqp_raw_bench
CLIENT_BIN=$BUILD_DIR/bin/amqp_client_bench
say "building amqp_raw_bench in $BUILD_DIR"
cmake --build "$BUILD_DIR" --parallel "$JOBS" --target amqp_raw_bench >&2 || die "amqp_raw_bench did not build"

CLIENT_MISSING=""  # why the AmqpClient figures are missing, if they are
BUILD_LOG=$(mktemp /tmp/cppblog-amqp-bench-build.XXXXXX)
if ! grep -q 'amqp_client_bench' "$BUILD_DIR/build.ninja"; then
  CLIENT_MISSING="this tree has no cppblog::messaging library (AmqpClient), so amqp_client_bench is not defined"
else
  say "building amqp_client_bench (links cppblog::messaging)"
  if ! cmake --build "$BUILD_DIR" --parallel "$JOBS" --target amqp_client_bench >"$BUILD_LOG" 2>&1; then
    grep -m 5 -E 'error|FAILED' "$BUILD_LOG" >&2 || true
    CLIENT_MISSING="amqp_client_bench (cppblog::messaging) failed to build in $BUILD_DIR"
  fi
fi
rm -f "$BUILD_LOG"
[ -z "$CLIENT_MISSING" ] || say "MISSING: AmqpClient figures: $CLIENT_MISSING"

# --- broker ---------------------------------------------------------------------------------
stop_broker() { RABBIT_DIR=$RABBIT_DIR_BENCH "$ROOT/dev" rabbit stop >/dev/null 2>&1 || true; }
trap stop_broker EXIT
RABBIT_DIR=$RABBIT_DIR_BENCH RABBIT_MANAGEMENT=0 "$ROOT/dev" rabbit start >/dev/null ||
  die "the private RabbitMQ node did not start; see $RABBIT_DIR_BENCH/log/"
# shellcheck disable=SC1091
URL=$(. "$RABBIT_DIR_BENCH/node.env" && echo "$AMQP_URL")
RABBIT_VERSION=$(RABBIT_DIR=$RABBIT_DIR_BENCH "$ROOT/dev" rabbit ctl -q version 2>/dev/null ||
  dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo unknown)
ERLANG_VERSION=$(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().' \
  2>/dev/null || echo unknown)
SCHEDULERS=$(rabbit_schedulers "$RABBIT_DIR_BENCH")
say "RabbitMQ $RABBIT_VERSION (Erlang/OTP $ERLANG_VERSION, $SCHEDULERS scheduler(s)) at ${URL/guest:guest@/}"

# --- the steps ------------------------------------------------------------------------------
delete_queue() {
  "$RAW_BIN" delete --url "$URL" --queue "$QUEUE" >/dev/null || die "could not delete the queue $QUEUE"
}

fill_queue() {
  delete_queue
  "$RAW_BIN" publish --url "$URL" --queue "$QUEUE" --count "$COUNT" >/dev/null ||
    die "could not fill the queue with $COUNT messages"
}

# run_step LABEL CMD...: runs one measurement; prints "<msg/s>:<CPU seconds of the client
# process>" (or "failed") on stdout.
run_step() {
  local label=$1 out result=""
  shift
  if out=$("$@" 2>&1); then
    result=$(printf '%s\n' "$out" | awk '
      { for (i = 2; i <= NF; i++) { if ($i == "msg/s") r = $(i - 1); if ($i == "cpu-s") c = $(i - 1) } }
      END { if (r != "" && c != "") print r ":" c }')
  fi
  if [ -z "$result" ]; then
    say "  $label: FAILED: $(printf '%s\n' "$out" | tail -n 1)"
    echo failed
    return 0
  fi
  say "  $(printf '%s\n' "$out" | grep 'msg/s' | tail -n 1)"
  echo "$result"
}

declare -A results  # "<client>:<workload>" -> the rounds' "<msg/s>:<cpu s>" or "failed"
record() { results[$1:$2]="${results[$1:$2]:-} $3"; }

measure_publish() {  # CLIENT ROUND
  local result
  delete_queue
  if [ "$1" = raw ]; then
    result=$(run_step "raw publish" "$RAW_BIN" publish --url "$URL" --queue "$QUEUE" \
      --count "$COUNT" --window "$WINDOW")
    # The reference of both AmqpClient APIs.
    record raw publish "$result"
    record raw publish_callback "$result"
  else
    # Futures and callbacks, the order alternating per round as raw and AmqpClient do.
    local api
    for api in $(if [ $(($2 % 2)) = 1 ]; then echo publish publish-callback; else echo publish-callback publish; fi); do
      record amqpclient "${api/-/_}" "$(run_step "amqpclient $api" "$CLIENT_BIN" "$api" \
        --url "$URL" --queue "$QUEUE" --count "$COUNT" --window "$WINDOW")"
      delete_queue
    done
  fi
  delete_queue
}

measure_consume() {  # CLIENT PREFETCH
  local bin=$RAW_BIN
  [ "$1" = amqpclient ] && bin=$CLIENT_BIN
  fill_queue
  record "$1" "consume$2" "$(run_step "$1 consume prefetch $2" "$bin" consume --url "$URL" \
    --queue "$QUEUE" --count "$COUNT" --prefetch "$2")"
  delete_queue
}

clients() {  # ROUND: both clients, the order alternating per round
  if [ -n "$CLIENT_MISSING" ]; then echo raw
  elif [ $(($1 % 2)) = 1 ]; then echo raw amqpclient
  else echo amqpclient raw; fi
}

# The machine's CPU time by kind over the run (the first line of /proc/stat): how busy it was,
# and how much a hypervisor took (steal).
cpu_times() { awk '/^cpu / { print $2 + $3, $4, $5 + $6, $7 + $8, $9 }' /proc/stat; }
CPU_BEFORE=$(cpu_times)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$SECONDS
for round in $(seq 1 "$ROUNDS"); do
  say "round $round/$ROUNDS: publish $COUNT persistent messages with confirms"
  for c in $(clients "$round"); do measure_publish "$c" "$round"; done
  for p in "${PREFETCHES[@]}"; do
    say "round $round/$ROUNDS: consume $COUNT messages, manual ack, prefetch $p"
    for c in $(clients "$round"); do measure_consume "$c" "$p"; done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_AFTER=$(cpu_times)
# user+nice system idle+iowait irq+softirq steal, as differences: busy % and steal % of all.
read -r BUSY_PCT STEAL_PCT < <(awk -v a="$CPU_BEFORE" -v b="$CPU_AFTER" 'BEGIN {
  split(a, x, " "); split(b, y, " "); for (i = 1; i <= 5; i++) { d[i] = y[i] - x[i]; t += d[i] }
  if (t <= 0) { print "? ?"; exit }
  printf "%.0f %.1f\n", 100 * (d[1] + d[2] + d[4]) / t, 100 * d[5] / t }')
say "done in $((SECONDS - START)) s; machine busy ${BUSY_PCT} %, steal ${STEAL_PCT} %"

# --- medians and ratios -----------------------------------------------------------------------
rates_of() {  # KEY: the rounds' msg/s ("failed" kept)
  local v out=""
  for v in ${results[$1]:-}; do out+="${v%%:*} "; done
  echo "${out% }"
}
cpus_of() {  # KEY: the rounds' client CPU seconds ("failed" kept)
  local v out=""
  for v in ${results[$1]:-}; do out+="${v##*:} "; done
  echo "${out% }"
}
median() {  # rates (and "failed"s) -> median of the numbers, or empty
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) exit; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
round_ratios() {  # WORKLOAD: AmqpClient / raw of each round where both ran
  local -a raw cli
  read -r -a raw <<<"$(rates_of "raw:$1")"
  read -r -a cli <<<"$(rates_of "amqpclient:$1")"
  local i out=""
  for i in "${!cli[@]}"; do
    [[ ${raw[$i]:-} =~ ^[0-9.]+$ && ${cli[$i]} =~ ^[0-9.]+$ ]] && out+="$(ratio "${cli[$i]}" "${raw[$i]}") "
  done
  echo "${out% }"
}
# Met only if the ratio of the medians and every round's ratio reach 0.9; missed if none does.
verdict() {  # RATIO_OF_MEDIANS ROUND_RATIOS...
  [ -n "$1" ] || { echo "not measured"; return; }
  printf '%s\n' "$@" | awk '{ if ($1 >= 0.9) ok++; n++ }
    END { print (ok == n) ? "met" : (ok == 0) ? "**missed**" : "inconclusive: rounds on both sides" }'
}
cpu_fmt() { [ -n "$1" ] && awk -v c="$1" 'BEGIN { printf "%.2f", c }' || echo "—"; }
fmt() { [ -n "$1" ] && awk -v r="$1" 'BEGIN { printf "%.0f", r }' || echo "—"; }
rounds_of() {  # KEY: the per-round rates, for the record
  local v out=""
  for v in $(rates_of "$1"); do
    if [ "$v" = failed ]; then out+="failed, "; else out+="$(fmt "$v"), "; fi
  done
  echo "${out%, }"
}

WORKLOADS=(publish publish_callback consume100 consume1000)
declare -A title=(
  [publish]="publish, persistent, confirms (window $WINDOW)"
  [publish_callback]="the same, AmqpClient's callback API"
  [consume100]="consume, manual ack, prefetch 100"
  [consume1000]="consume, manual ack, prefetch 1000")
rows=""
summary=""
for w in "${WORKLOADS[@]}"; do
  # shellcheck disable=SC2046  # the rates are words
  raw_m=$(median $(rates_of "raw:$w"))
  # shellcheck disable=SC2046
  raw_cpu=$(median $(cpus_of "raw:$w"))
  cli_m=""
  cli_cpu=""
  if [ -z "$CLIENT_MISSING" ]; then
    # shellcheck disable=SC2046
    cli_m=$(median $(rates_of "amqpclient:$w"))
    # shellcheck disable=SC2046
    cli_cpu=$(median $(cpus_of "amqpclient:$w"))
  fi
  r=$(ratio "$cli_m" "$raw_m" || true)
  rr=$(round_ratios "$w")
  # shellcheck disable=SC2086
  rows+="| ${title[$w]} | $(fmt "$raw_m") | $(fmt "$cli_m") | ${r:-—} | ${rr// /, } | $(verdict "$r" $rr) |"$'\n'
  rows+="| &nbsp;&nbsp;rounds (msg/s) | $(rounds_of "raw:$w") | $(rounds_of "amqpclient:$w") | | | |"$'\n'
  rows+="| &nbsp;&nbsp;client CPU, median (s) | $(cpu_fmt "$raw_cpu") | $(cpu_fmt "$cli_cpu") | $(ratio "$cli_cpu" "$raw_cpu" || echo —) | | |"$'\n'
  summary+="$w: raw $(fmt "$raw_m") msg/s, AmqpClient $(fmt "$cli_m") msg/s, ratio ${r:-—} (rounds ${rr:-—}); "
done
say "medians: ${summary%; }"
[ -z "$CLIENT_MISSING" ] || say "MISSING: the AmqpClient column and the ratios ($CLIENT_MISSING)"

# --- docs/benchmarks.md: replace the AMQP section -----------------------------------------------
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain -- common/src/messaging common/include/cppblog/messaging \
  bench 2>/dev/null | head -n 1)
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD_DIR/CMakeCache.txt" | head -n 1; }
BUILD_DESC="${BUILD_DIR#"$ROOT"/}: $(cache_value CMAKE_BUILD_TYPE), static=$(cache_value CPPBLOG_STATIC)"
busy_note=""
if awk -v l="${LOAD_BEFORE%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
  busy_note="

**The machine was busy** (load average ${LOAD_BEFORE%% *} on $(nproc) cores when the run began): the
absolute rates are far below an idle machine's (rabbitmq-notes.md section 3 measured raw loops
like these at about 29k, 39k and 68k msg/s). Even the ratios may then lean towards AmqpClient:
the scheduler shares the cores per thread, and its I/O and handler threads can take more of them
than the single-threaded raw loop. Rerun \`./dev bench\` on a quiet machine for figures that stand."
fi
missing_note=""
if [ -n "$CLIENT_MISSING" ]; then
  missing_note="

**Missing: the AmqpClient figures and the ratios were not measured in this run** ($CLIENT_MISSING).
Only the raw reference is shown; run \`./dev bench\` again once AmqpClient builds."
fi
section=$(cat <<EOF
<!-- amqp_throughput:begin (written by bench/amqp_throughput.sh; edits here are overwritten) -->
## AMQP throughput

Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($CPU), RabbitMQ $RABBIT_VERSION
(Erlang/OTP $ERLANG_VERSION, $SCHEDULERS Erlang scheduler(s): \`./dev\`'s \`RABBIT_SCHEDULERS\`, a private node without plugins), commit $COMMIT${DIRTY:+ (with uncommitted changes in messaging or bench)},
by \`./dev bench\` (\`bench/amqp_throughput.sh\`, COUNT=$COUNT ROUNDS=$ROUNDS; binaries from $BUILD_DESC). Load average
before / after: $LOAD_BEFORE / $LOAD_AFTER; over the run the cores were ${BUSY_PCT} % busy (all
processes) and ${STEAL_PCT} % was stolen by the hypervisor (the broker, the client and anything
else running share the cores, so absolute figures move with the load; the raw and AmqpClient runs
are interleaved so that their ratio is fair, and the client CPU ratios, time the process itself
used, are the figures that load moves least).

Workloads, $COUNT messages of 120 bytes of JSON each, one durable classic queue, deleted
before and after every step: **publish** persistent messages (delivery mode 2) through the
default exchange with publisher confirms, at most $WINDOW unconfirmed, timed from the first
publish to the last confirm; **consume** with \`basic.qos\` prefetch and one manual ack per
message from a queue filled beforehand, timed from the first delivery to the last ack (raw:
one \`basic.ack\` per message, as in the notes; AmqpClient: the handler's return, its acks
coalesced with \`multiple\` over runs of finished deliveries).
*raw* is \`amqp_raw_bench\` (bench/amqp_raw_bench.cpp: the plainest rabbitmq-c 0.11 loop, no
cppblog code); *AmqpClient* is \`amqp_client_bench\` (\`PublishToQueue\` futures, or its callback
form in the second row against the same raw runs (the two APIs in alternating order too), \`SubscribeToQueue\` with a handler returning
\`Outcome::kAck\`). Targets (issue 14): client CPU per confirmed publish at most 1.2 × raw's,
throughput at least 1.0 × raw's, callbacks not slower than futures. *Client CPU* is the user +
system time of the benchmark process, all its threads, connection setup included (the broker's
is not counted). Rounds: $ROUNDS, the order
alternating; medians. *Met* needs the ratio of the medians and every round's ratio to reach
0.9.$busy_note$missing_note

| workload | raw msg/s | AmqpClient msg/s | AmqpClient / raw | per round | target ≥ 0.9 |
|---|---:|---:|---:|---:|---|
${rows%$'\n'}
<!-- amqp_throughput:end -->
EOF
)
write_section amqp_throughput "$section"
say "wrote the AMQP section of $DOC"
