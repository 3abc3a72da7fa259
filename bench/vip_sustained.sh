#!/usr/bin/env bash
# The VIP flow's sustained end-to-end rate against the broker's own capacity for the same
# messages, on one RabbitMQ node and on a 3-node cluster, and the time from killing the quorum
# leader of vip_queue to the first delivery after it. One run (issue 11, "Performance").
#
#   bench/vip_sustained.sh            (run by ./dev bench after building the release preset)
#
# The reference, *raw pipeline*: `amqp_raw_bench pipeline` (bench/amqp_raw_bench.cpp, no cppblog
# code): a rabbitmq-c consumer with manual acks (prefetch = the vipservice's, 100) registered on
# a durable queue, then a rabbitmq-c publisher on its own connection sending SUSTAINED_RAW_COUNT
# persistent messages with confirms (window 1000), each with a 32-character message id and a body
# of the VIP notification's size (taken from a vipservice's log); rate = messages / (first
# publish → last ack). Classic queue on the single node; quorum on the cluster (publisher on
# node 1, which declares the queue and so leads it, consumer on node 2).
#
# The VIP flow, *sustained*: a release accountservice and N release vipservices (offer_cooldown
# 0: every notification is an offer; log level info) on free ports. For each configuration,
# vipservices started fresh, a 1 s warm-up on another account, then `paced_http_load --rate 0`
# (a closed loop: SUSTAINED_CONNECTIONS keep-alive connections, each sending its next VIP read
# as soon as the previous one is answered) for SUSTAINED_SECONDS on one VIP account, then the
# drain: until the vipservices have received a notification for every answered read (their
# "Got a message" lines). Rate = offers / (start of the load → the last delivery logged); then
# the store is read back (GET /offers/{account}): it must hold exactly one offer per answered read.
# Configurations on the single node (classic vip_queue): LMDB with 1 and 3 vipservices (the 3
# share one data dir, as deployed on one host: ADR 0005), PostgreSQL (`./dev postgres`, a private
# server) with 1 and 3, and with 3 and the reads spread over 3 accounts (PostgreSQL serialises one
# account's transactions, ADR 0010: this shows whether that lock is what bounds it). On the cluster
# (`./dev rabbit cluster`, quorum vip_queue, every service on the cluster's address list):
# PostgreSQL with 3 vipservices, as `./dev cluster` deploys.
# Raw pipelines run before the first configuration, after every second one and after the last;
# a configuration's ratio is its rate over the median of its broker's raw pipelines.
# For every run: the CPU time (user + system, all threads, from /proc) of each process per
# notification, and the machine's busy and steal share (/proc/stat) over it.
#
# Failover: on the cluster, a paced stream of VIP reads (SUSTAINED_FAILOVER_RATE/s for
# SUSTAINED_FAILOVER_SECONDS); after SUSTAINED_FAILOVER_KILL_AFTER s, `kill -9` of the Erlang VM
# of the node that leads vip_queue (rabbitmqctl list_queues name leader). The time to the first
# delivery after it is taken from the vipservices' log timestamps (ms, UTC): the first delivery
# logged after the longest pause in deliveries that ends after the kill. Then every answered read
# must be stored once.
#
# Writes the "VIP flow sustained" section of docs/benchmarks.md.
#
# Environment: ACCOUNTSERVICE_BIN, VIPSERVICE_BIN (build/release/bin/…), VIP_BENCH_BUILD_DIR
# (build/bench; configured with `cmake --preset bench` when absent), SUSTAINED_SECONDS (5),
# SUSTAINED_CONNECTIONS (8), SUSTAINED_RAW_COUNT (30000; SUSTAINED_CLUSTER_RAW_COUNT, 10000, on
# the cluster), SUSTAINED_CONFIGS ("lmdb:1 lmdb:3
# pg:1 pg:3 pg:3:3", STORE:VIPSERVICES[:ACCOUNTS] on the single node), SUSTAINED_CLUSTER_CONFIGS ("pg:3"; empty:
# no cluster, no failover), SUSTAINED_FAILOVER_RATE (300), SUSTAINED_FAILOVER_SECONDS (12),
# SUSTAINED_FAILOVER_KILL_AFTER (4), BENCH_DOC (docs/benchmarks.md), BUILD_JOBS (2), KEEP_WORK
# (set: keep the logs in /tmp).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ACCOUNT_BIN=${ACCOUNTSERVICE_BIN:-$ROOT/build/release/bin/accountservice}
VIP_BIN=${VIPSERVICE_BIN:-$ROOT/build/release/bin/vipservice}
BUILD_DIR=${VIP_BENCH_BUILD_DIR:-$ROOT/build/bench}
LOAD_SECONDS=${SUSTAINED_SECONDS:-5}
CONNECTIONS=${SUSTAINED_CONNECTIONS:-8}
RAW_COUNT=${SUSTAINED_RAW_COUNT:-30000}
CLUSTER_RAW_COUNT=${SUSTAINED_CLUSTER_RAW_COUNT:-10000}  # a quorum queue on 3 nodes is slower
read -ra CONFIGS <<<"${SUSTAINED_CONFIGS-lmdb:1 lmdb:3 pg:1 pg:3 pg:3:3}"
read -ra CLUSTER_CONFIGS <<<"${SUSTAINED_CLUSTER_CONFIGS-pg:3}"
FAILOVER_RATE=${SUSTAINED_FAILOVER_RATE:-300}
FAILOVER_SECONDS=${SUSTAINED_FAILOVER_SECONDS:-12}
FAILOVER_KILL_AFTER=${SUSTAINED_FAILOVER_KILL_AFTER:-4}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
JOBS=${BUILD_JOBS:-2}  # the machine is shared: at most two compilers
RABBIT_DIR_BENCH=$ROOT/.run/bench-sustained-rabbitmq
CLUSTER_DIR_BENCH=$ROOT/.run/bench-sustained-cluster
PG_DIR_BENCH=$ROOT/.run/bench-sustained-postgres
RAW_QUEUE=cppblog.bench.sustained
PREFETCH=100  # the vipservice's default prefetch
WINDOW=1000   # unconfirmed publishes, as amqp_throughput.sh
WARMUP_ACCOUNT=10002
FIRST_ACCOUNT=10010  # each run of the VIP flow on an account of its own: 10010, 10011, …
TARGET_RATIO=0.8
TARGET_FAILOVER_S=5

# shellcheck source=bench/bench-lib.bash
. "$ROOT/bench/bench-lib.bash"

[ -x "$ACCOUNT_BIN" ] || die "$ACCOUNT_BIN not found; build it first: ./dev build release"
[ -x "$VIP_BIN" ] || die "$VIP_BIN not found; build it first: ./dev build release"
ACCOUNT_BIN=$(readlink -f "$ACCOUNT_BIN") VIP_BIN=$(readlink -f "$VIP_BIN")
[ ${#CONFIGS[@]} -gt 0 ] || die "SUSTAINED_CONFIGS needs at least one configuration (lmdb:1)"
for c in "${CONFIGS[@]}" "${CLUSTER_CONFIGS[@]}"; do
  [[ $c =~ ^(lmdb|pg):[1-9](:[1-9])?$ ]] ||
    die "a configuration is STORE:VIPSERVICES[:ACCOUNTS] (lmdb:3, pg:1, pg:3:3), not '$c'"
done

configure_bench_build "$BUILD_DIR"
say "building amqp_raw_bench, paced_http_load and disk_sync_probe in $BUILD_DIR"
cmake --build "$BUILD_DIR" --parallel "$JOBS" --target amqp_raw_bench paced_http_load disk_sync_probe >&2 ||
  die "amqp_raw_bench, paced_http_load or disk_sync_probe did not build"
PROBE_BIN=$BUILD_DIR/bin/disk_sync_probe
RAW_BIN=$BUILD_DIR/bin/amqp_raw_bench
LOAD_BIN=$BUILD_DIR/bin/paced_http_load

# --- servers, and stopping them --------------------------------------------------------------
WORK=$(mktemp -d /tmp/cppblog-bench-sustained.XXXXXX)
mkdir -p "$WORK/no-config"
VIP_PIDS=() VIP_PORTS=() VIP_LOGS=()
ACCOUNT_PID="" ACCOUNT_PORT="" ACCOUNT_LOG=""
stop_pids() {  # PID...: SIGTERM, then wait for each
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
stop_vipservices() { stop_pids "${VIP_PIDS[@]}"; VIP_PIDS=() VIP_PORTS=(); }
stop_accountservice() { [ -z "$ACCOUNT_PID" ] || stop_pids "$ACCOUNT_PID"; ACCOUNT_PID=""; }
cleanup() {
  stop_vipservices
  stop_accountservice
  RABBIT_DIR=$RABBIT_DIR_BENCH "$ROOT/dev" rabbit stop >/dev/null 2>&1 || true
  RABBIT_CLUSTER_DIR=$CLUSTER_DIR_BENCH "$ROOT/dev" rabbit cluster stop >/dev/null 2>&1 || true
  PG_DIR=$PG_DIR_BENCH "$ROOT/dev" postgres remove >/dev/null 2>&1 || true
  if [ -n "${KEEP_WORK:-}" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT


start_accountservice() {  # BROKER_URLS QUEUE_TYPE NAME
  ACCOUNT_PORT=$(free_port) ACCOUNT_LOG=$WORK/accountservice-$3.log
  local accounts="$WARMUP_ACCOUNT" i
  for i in $(seq 0 29); do accounts+=",$((FIRST_ACCOUNT + i))"; done
  (cd "$WORK" && exec "$ACCOUNT_BIN" --config-dir "$WORK/no-config" --set "server_port=$ACCOUNT_PORT" \
    --set "data_dir=$WORK/accountservice-$3" --set "amqp_server_url=$1" --set "vip_queue_type=$2" \
    --set "vip_accounts=$accounts") 2>"$ACCOUNT_LOG" >&2 &
  ACCOUNT_PID=$!
  wait_healthy accountservice "$ACCOUNT_PORT" "$ACCOUNT_PID" "$ACCOUNT_LOG"
}

PG_URL=""
start_vipservices() {  # COUNT STORE BROKER_URLS QUEUE_TYPE NAME
  local i port log data store_url=""
  [ "$2" = pg ] && store_url=$PG_URL
  VIP_LOGS=()
  for i in $(seq 1 "$1"); do
    port=$(free_port) log=$WORK/vipservice-$5-$i.log
    data=$WORK/vipservice-$5  # LMDB: one data dir for the instances (ADR 0005)
    [ "$2" = pg ] && data=$WORK/vipservice-$5-$i
    # The store URL (with its password) through the environment: not on a command line.
    (cd "$WORK" && OFFER_STORE_URL=$store_url exec "$VIP_BIN" --config-dir "$WORK/no-config" \
      --set "server_port=$port" --set "data_dir=$data" --set "amqp_server_url=$3" \
      --set "vip_queue_type=$4" --set offer_cooldown=0) 2>"$log" >&2 &
    VIP_PIDS+=($!) VIP_PORTS+=("$port") VIP_LOGS+=("$log")
  done
  for i in "${!VIP_PIDS[@]}"; do
    wait_healthy "vipservice $((i + 1))" "${VIP_PORTS[$i]}" "${VIP_PIDS[$i]}" "${VIP_LOGS[$i]}"
  done
}

# --- what the logs and the stores say -----------------------------------------------------------
# Epoch seconds (ms precision) of a log line's leading UTC timestamp, 2026-12-07T00:11:06.123Z.
AWK_EPOCH='
function epoch(ts,   y, mo, d, h, mi, s, era, yoe, doy, doe, days) {
  y = substr(ts, 1, 4) + 0; mo = substr(ts, 6, 2) + 0; d = substr(ts, 9, 2) + 0
  h = substr(ts, 12, 2) + 0; mi = substr(ts, 15, 2) + 0; s = substr(ts, 18, 6) + 0
  if (mo <= 2) y -= 1
  era = int(y / 400); yoe = y - era * 400
  doy = int((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + d - 1
  doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
  days = era * 146097 + doe - 719468
  return days * 86400 + h * 3600 + mi * 60 + s
}'
# The notifications for ACCOUNT the vipservices received ("Got a message" lines), all logs.
deliveries() {  # ACCOUNT
  cat "${VIP_LOGS[@]}" | grep -E "Got a message.*accountId[^0-9]*$1[^0-9]" || true
}
delivered_count() { deliveries "$1" | grep -c . || true; }
# Epoch seconds of every such delivery, sorted.
delivery_times() {  # ACCOUNT
  deliveries "$1" | awk "$AWK_EPOCH"' { printf "%.3f\n", epoch($1) }' | sort -n
}
# Waits until the vipservices received COUNT notifications for ACCOUNT; gives up after
# nothing new for 20 s (or 300 s in all).
wait_delivered() {  # ACCOUNT COUNT
  local deadline=$((SECONDS + 300)) last=-1 now quiet=$SECONDS
  while :; do
    now=$(delivered_count "$1")
    [ "$now" -ge "$2" ] && return 0
    [ "$now" != "$last" ] && { last=$now; quiet=$SECONDS; }
    if [ $((SECONDS - quiet)) -ge 20 ] || [ $SECONDS -ge $deadline ]; then
      say "only $now of $2 notifications for $1 arrived"
      return 1
    fi
    sleep 0.1
  done
}
# "stored duplicated" for ACCOUNT from the store (every instance shares it): GET /offers, once
# it holds at least COUNT offers or 10 s have passed (the last commits land after their log line).
stored_offers() {  # ACCOUNT COUNT
  local deadline=$((SECONDS + 10)) json total dup
  while :; do
    json=$(curl -sf "http://127.0.0.1:${VIP_PORTS[0]}/offers/$1") || { echo "- -"; return; }
    total=$(grep -o '"messageId":"[^"]*"' <<<"$json" | grep -c . || true)
    [ "$total" -ge "$2" ] || [ $SECONDS -ge $deadline ] && break
    sleep 0.2
  done
  dup=$(grep -o '"messageId":"[^"]*"' <<<"$json" | sort | uniq -d | grep -c . || true)
  echo "$total $dup"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b + 0 <= 0) print "—"; else printf "%.2f", a / b }'; }

# --- CPU --------------------------------------------------------------------------------------
BROKER_PIDS=() PG_PIDS=()
pg_pids() {  # the postmaster and its children (a backend per connection)
  local main
  # shellcheck disable=SC1091
  main=$(. "$PG_DIR_BENCH/pg.env" && head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 0
  echo "$main" "$(pgrep -P "$main" | tr '\n' ' ')"
}
# The next transaction id PostgreSQL will assign: its difference over a run counts the write
# transactions committed (or aborted) meanwhile, at once (pg_stat_database lags by up to 10 s).
PSQL=""
pg_next_xid() {
  # shellcheck disable=SC1091
  (. "$PG_DIR_BENCH/pg.env" && PGPASSWORD=$PG_PASSWORD "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" \
    -d "$PG_DATABASE" -Atc 'SELECT pg_snapshot_xmax(pg_current_snapshot())' 2>/dev/null) || echo -
}
# "accountservice broker vipservices postgres" ticks, then machine_ticks (busy idle steal).
snapshot() {
  echo "$(process_ticks ${ACCOUNT_PID:-}) $(process_ticks "${BROKER_PIDS[@]}") $(process_ticks "${VIP_PIDS[@]}") $(process_ticks "${PG_PIDS[@]}") $(machine_ticks)"
}
# "µs-per-message for each of the 4 processes, the machine's busy µs per message, busy%, steal%"
cpu_per_message() {  # BEFORE AFTER MESSAGES
  local a b k per=""
  read -ra a <<<"$1"
  read -ra b <<<"$2"
  for k in 0 1 2 3 4; do per+="$(us_per_request $((b[k] - a[k])) "$3") "; done
  echo "$per$(machine_share "${a[*]:4}" "${b[*]:4}" | awk '{print $1, $3}')"
}

# --- one raw pipeline, one VIP run ---------------------------------------------------------------
BODY_BYTES=""
RAW_ROWS=()  # "broker messages rate client_us broker_us machine_us busy steal"
run_raw() {  # BROKER PUBLISH_URL CONSUME_URL QUEUE_TYPE
  local out before after client_cpu rate cpu broker machine busy steal count=$RAW_COUNT
  [ "$1" = cluster ] && count=$CLUSTER_RAW_COUNT
  "$RAW_BIN" delete --url "$2" --queue "$RAW_QUEUE" >/dev/null || die "could not delete $RAW_QUEUE"
  before=$(snapshot)
  out=$("$RAW_BIN" pipeline --url "$2" --consume-url "$3" --queue "$RAW_QUEUE" --count "$count" \
    --prefetch "$PREFETCH" --window "$WINDOW" --queue-type "$4" --body-bytes "$BODY_BYTES") ||
    die "the raw pipeline failed on the $1: $out"
  after=$(snapshot)
  "$RAW_BIN" delete --url "$2" --queue "$RAW_QUEUE" >/dev/null || true
  rate=$(awk '{ for (i = 2; i <= NF; i++) if ($i == "msg/s") print $(i - 1) }' <<<"$out")
  client_cpu=$(awk '{ for (i = 2; i <= NF; i++) if ($i == "cpu-s") print $(i - 1) }' <<<"$out")
  read -r _ broker _ _ machine busy steal < <(cpu_per_message "$before" "$after" "$count")
  cpu=$(awk -v c="$client_cpu" -v n="$count" 'BEGIN { printf "%.0f", c * 1e6 / n }')
  RAW_ROWS+=("$1 $count $rate $cpu $broker $machine $busy $steal")
  say "raw pipeline on the $1 ($4 queue): $out; per message: client $cpu µs, RabbitMQ $broker µs, machine $machine µs; busy $busy %, steal $steal %"
}

NEXT_ACCOUNT=$FIRST_ACCOUNT
VIP_ROWS=()  # "broker store n accounts first_account sent ok stored dup load_s answered_rate drain_s rate acc_us broker_us vips_us pg_us machine_us busy steal pg_commits"
# Runs the closed loop on ACCOUNTS accounts from FIRST at once (CONNECTIONS shared out among
# them), one driver each; prints "sent ok seconds" summed (seconds: the longest).
drive_closed_loop() {  # FIRST ACCOUNTS
  local i conns pids=() files=()
  for i in $(seq 0 $(($2 - 1))); do
    conns=$((CONNECTIONS / $2 + (i < CONNECTIONS % $2 ? 1 : 0)))
    [ "$conns" -ge 1 ] || conns=1
    files+=("$WORK/load-$(($1 + i)).out")
    "$LOAD_BIN" --port "$ACCOUNT_PORT" --path "/accounts/$(($1 + i))" --rate 0 \
      --duration "$LOAD_SECONDS" --connections "$conns" >"${files[-1]}" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || say "the load on /accounts/$(($1 + i)) had errors: $(cat "${files[$i]}")"; done
  for i in "${files[@]}"; do cat "$i"; done |
    awk '{ for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
           sent += v["sent"]; ok += v["ok"]; if (v["seconds"] > s) s = v["seconds"] }
         END { printf "%d %d %.2f\n", sent, ok, s }'
}
run_vip() {  # BROKER STORE COUNT ACCOUNTS BROKER_URLS QUEUE_TYPE
  local name="$1-$2-$3-$4" first=$NEXT_ACCOUNT accounts out before after t0 t_last sent ok seconds
  local stored=0 dup=0 s d i drain rate cpu answered xid_before xid_after commits
  NEXT_ACCOUNT=$((NEXT_ACCOUNT + $4))
  accounts="($(seq -s '|' "$first" $((first + $4 - 1))))"  # an ERE alternation of the accounts
  start_vipservices "$3" "$2" "$5" "$6" "$name"
  [ "$2" = pg ] && read -ra PG_PIDS < <(pg_pids) || PG_PIDS=()
  out=$("$LOAD_BIN" --port "$ACCOUNT_PORT" --path "/accounts/$WARMUP_ACCOUNT" --rate 200 --duration 1 \
    --connections 4) || say "the warm-up had errors: $out"
  wait_delivered "$WARMUP_ACCOUNT" "$(( $(kv ok "$out") ))" || true
  if [ -z "$BODY_BYTES" ]; then
    BODY_BYTES=$(deliveries "$WARMUP_ACCOUNT" | head -n 1 | sed -e 's/.*Got a message: //' -e 's/ \(trace_id\|message_id\)=.*//' |
      tr -d '\134' |
      awk '{ print length($0) }')
    [ -n "$BODY_BYTES" ] || die "no VIP notification in the vipservice's log to take its size from"
    say "a VIP notification's body: $BODY_BYTES bytes"
  fi
  if [ "${RUN_RAW_BEFORE:-0}" = 1 ]; then run_raw "${RAW_ARGS[@]}"; fi
  say "VIP flow on the $1, $2 store, $3 vipservice(s): $LOAD_SECONDS s closed loop on /accounts/$accounts over $CONNECTIONS connections, then the drain"
  xid_before=-
  [ "$2" = pg ] && xid_before=$(pg_next_xid)
  before=$(snapshot)
  t0=$(date +%s.%N)
  read -r sent ok seconds < <(drive_closed_loop "$first" "$4")
  wait_delivered "$accounts" "$ok" || true
  after=$(snapshot)
  commits=-
  if [ "$xid_before" != - ]; then
    xid_after=$(pg_next_xid)
    [ "$xid_after" != - ] && commits=$((xid_after - xid_before))
  fi
  t_last=$(delivery_times "$accounts" | tail -n 1)
  # Each account's offers from the store (all its offers, from every instance), summed.
  for i in $(seq "$first" $((first + $4 - 1))); do
    read -r s d < <(stored_offers "$i" 1)
    [ "$s" = - ] && { stored=-; break; }
    stored=$((stored + s)) dup=$((dup + d))
  done
  [ "$stored" = - ] || [ "$stored" -ge "$ok" ] || sleep 1  # the last commits; then once more
  if [ "$stored" != - ] && [ "$stored" -lt "$ok" ]; then
    stored=0 dup=0
    for i in $(seq "$first" $((first + $4 - 1))); do
      read -r s d < <(stored_offers "$i" 1)
      stored=$((stored + ${s/-/0})) dup=$((dup + ${d/-/0}))
    done
  fi
  drain=$(awk -v t0="$t0" -v s="$seconds" -v e="${t_last:-0}" 'BEGIN { printf "%.2f", e - t0 - s }')
  rate=$(awk -v n="$stored" -v t0="$t0" -v e="${t_last:-0}" 'BEGIN { if (n !~ /^[0-9]+$/ || e - t0 <= 0) print "—"; else printf "%.0f", n / (e - t0) }')
  answered=$(awk -v n="$ok" -v s="$seconds" 'BEGIN { if (s + 0 > 0) printf "%.0f", n / s; else print "—" }')
  cpu=$(cpu_per_message "$before" "$after" "$ok")
  VIP_ROWS+=("$1 $2 $3 $4 $first $sent $ok $stored $dup $seconds $answered $drain $rate $cpu $commits")
  say "  answered $ok ($answered/s for $seconds s), drained $drain s later; stored $stored (ids twice: $dup): $rate offers/s end to end"
  say "  CPU per notification (µs): accountservice, RabbitMQ, vipservices, PostgreSQL, machine; busy %, steal %: $cpu; PostgreSQL write transactions: $commits"
  stop_vipservices
}

# Runs CONFIGS on one broker: raw pipelines before the first, after every second and after the last.
run_broker() {  # BROKER URLS PUBLISH_URL CONSUME_URL QUEUE_TYPE CONFIG...
  local broker=$1 urls=$2 queue_type=$5 i=0 store count accounts
  RAW_ARGS=("$broker" "$3" "$4" "$queue_type")
  shift 5
  for config in "$@"; do
    IFS=: read -r store count accounts <<<"$config"
    RUN_RAW_BEFORE=$((i % 2 == 0 ? 1 : 0))
    run_vip "$broker" "$store" "$count" "${accounts:-1}" "$urls" "$queue_type"
    i=$((i + 1))
  done
  run_raw "${RAW_ARGS[@]}"
}

# --- the single node --------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$SECONDS
# What one synced commit after another can do on this disk and machine now: the offer store's
# group commits (and the outbox's) are such a sequence.
DISK=$("$PROBE_BIN" --dir "$WORK" --writers 1 --kb 4 --seconds 2) || die "disk_sync_probe failed"
say "disk: $DISK"
say "starting a private RabbitMQ node (${RABBIT_DIR_BENCH#"$ROOT"/}) and PostgreSQL (${PG_DIR_BENCH#"$ROOT"/})"
PG_DIR=$PG_DIR_BENCH "$ROOT/dev" postgres remove >/dev/null 2>&1 || true
PG_DIR=$PG_DIR_BENCH "$ROOT/dev" postgres start >/dev/null || die "PostgreSQL did not start"
# shellcheck disable=SC1091
PG_URL=$(. "$PG_DIR_BENCH/pg.env" && echo "$PG_URL")
RABBIT_DIR=$RABBIT_DIR_BENCH RABBIT_MANAGEMENT=0 "$ROOT/dev" rabbit start >/dev/null 2>&1 ||
  RABBIT_DIR=$RABBIT_DIR_BENCH RABBIT_MANAGEMENT=0 "$ROOT/dev" rabbit start >/dev/null ||
  die "the private RabbitMQ node did not start; see $RABBIT_DIR_BENCH/log/"
# shellcheck disable=SC1091
URL=$(. "$RABBIT_DIR_BENCH/node.env" && echo "$AMQP_URL")
RABBIT_VERSION=$(RABBIT_DIR=$RABBIT_DIR_BENCH "$ROOT/dev" rabbit ctl -q version 2>/dev/null || echo unknown)
SCHEDULERS=$(rabbit_schedulers "$RABBIT_DIR_BENCH")
PG_BIN_DIR=$(sed -n 's/^PG_BIN=//p' "$ROOT/dev" | head -n 1)
PSQL=$PG_BIN_DIR/psql
PG_VERSION=$("$PG_BIN_DIR/postgres" --version 2>/dev/null | awk '{print $3}' || echo unknown)
BROKER_PIDS=("$(cat "$RABBIT_DIR_BENCH/node.pid")")
start_accountservice "$URL" classic node
run_broker node "$URL" "$URL" "$URL" classic "${CONFIGS[@]}"
stop_accountservice
RABBIT_DIR=$RABBIT_DIR_BENCH "$ROOT/dev" rabbit stop >/dev/null 2>&1 || true

# --- the cluster ------------------------------------------------------------------------------
FAILOVER=""
if [ ${#CLUSTER_CONFIGS[@]} -gt 0 ]; then
  say "starting a 3-node RabbitMQ cluster (${CLUSTER_DIR_BENCH#"$ROOT"/})"
  RABBIT_CLUSTER_DIR=$CLUSTER_DIR_BENCH "$ROOT/dev" rabbit cluster stop >/dev/null 2>&1 || true
  RABBIT_CLUSTER_DIR=$CLUSTER_DIR_BENCH "$ROOT/dev" rabbit cluster start >/dev/null ||
    die "the RabbitMQ cluster did not start; see $CLUSTER_DIR_BENCH/n*/log/"
  # shellcheck disable=SC1091
  . "$CLUSTER_DIR_BENCH/cluster.env"
  BROKER_PIDS=("$NODE1_PID" "$NODE2_PID" "$NODE3_PID")
  NODE_URLS=()
  for i in 1 2 3; do
    # shellcheck disable=SC1090,SC1091
    NODE_URLS+=("$(. "$CLUSTER_DIR_BENCH/n$i/node.env" && echo "$AMQP_URL")")
  done
  start_accountservice "$CLUSTER_URLS" quorum cluster
  run_broker cluster "$CLUSTER_URLS" "${NODE_URLS[0]}" "${NODE_URLS[1]}" quorum "${CLUSTER_CONFIGS[@]}"

  # --- failover: kill -9 the leader of vip_queue under a paced stream ---------------------------
  IFS=: read -r store count _ <<<"${CLUSTER_CONFIGS[-1]}"
  account=$NEXT_ACCOUNT
  start_vipservices "$count" "$store" "$CLUSTER_URLS" quorum failover
  leader_name=$(RABBIT_CLUSTER_DIR=$CLUSTER_DIR_BENCH "$ROOT/dev" rabbit cluster ctl 1 list_queues name leader 2>/dev/null |
    awk '$1 == "vip_queue" {print $2}')
  leader=""
  for i in 1 2 3; do
    name_var=NODE${i}_NAME
    [ "${!name_var}" = "$leader_name" ] && leader=$i
  done
  [ -n "$leader" ] || die "could not find vip_queue's leader (rabbitmqctl list_queues name leader said '$leader_name')"
  pid_var=NODE${leader}_PID
  say "failover: $FAILOVER_SECONDS s of /accounts/$account at $FAILOVER_RATE/s; kill -9 of node $leader (vip_queue's leader, pid ${!pid_var}) after $FAILOVER_KILL_AFTER s"
  "$LOAD_BIN" --port "$ACCOUNT_PORT" --path "/accounts/$account" --rate "$FAILOVER_RATE" \
    --duration "$FAILOVER_SECONDS" --connections 64 >"$WORK/failover-load.out" 2>&1 &
  load_pid=$!
  sleep "$FAILOVER_KILL_AFTER"  # the stream runs steadily before the kill
  T_KILL=$(date +%s.%N)
  kill -9 "${!pid_var}"
  wait "$load_pid" || say "the failover load had errors: $(cat "$WORK/failover-load.out")"
  out=$(cat "$WORK/failover-load.out")
  ok=$(kv ok "$out")
  wait_delivered "$account" "$ok" || true
  read -r stored dup < <(stored_offers "$account" "$ok")
  # The outage: the longest pause between two deliveries that ends after the kill (the later of
  # the two within 30 s of it). Its end is the first delivery after the kill; a delivery logged
  # just after the kill but before that pause was already on its way.
  read -r before_kill first_after < <(delivery_times "$account" | awk -v k="$T_KILL" '
    $1 <= k - 1 { next }
    { if (prev != "" && $1 > k && $1 <= k + 30 && $1 - prev > best) { best = $1 - prev; from = prev; to = $1 }
      prev = $1 }
    END { printf "%s %s\n", (from == "" ? "—" : from), (to == "" ? "—" : to) }')
  recovery=$(awk -v f="$first_after" -v k="$T_KILL" 'BEGIN { if (f !~ /^[0-9.]+$/) print "—"; else printf "%.2f", f - k }')
  before_gap=$(awk -v b="$before_kill" -v k="$T_KILL" 'BEGIN { if (b !~ /^[0-9.]+$/) print "—"; else printf "%.3f", k - b }')
  pause=$(awk -v b="$before_kill" -v f="$first_after" 'BEGIN { if (b !~ /^[0-9.]+$/ || f !~ /^[0-9.]+$/) print "—"; else printf "%.3f", f - b }')
  # Who had to reconnect: "connected to" lines logged after the kill.
  reconnected=""
  for f in "$ACCOUNT_LOG" "${VIP_LOGS[@]}"; do
    n=$(awk "$AWK_EPOCH"' /connected to/ && epoch($1) > k { c++ } END { print c + 0 }' k="$T_KILL" "$f")
    # accountservice-cluster.log → accountservice, vipservice-failover-2.log → vipservice_2
    [ "$n" -gt 0 ] && reconnected+="${reconnected:+,}$(basename "$f" .log | sed 's/-cluster$//; s/-failover-/_/')"
  done
  new_leader=$(RABBIT_CLUSTER_DIR=$CLUSTER_DIR_BENCH "$ROOT/dev" rabbit cluster ctl $((leader % 3 + 1)) list_queues name leader 2>/dev/null |
    awk '$1 == "vip_queue" {print $2}' | sed 's/.*n\([0-9]\)@.*/node \1/')
  FAILOVER="$leader ${new_leader// /_} $recovery $before_gap $pause $ok $stored $dup $(kv sent "$out") ${reconnected:-none}"
  say "failover: first delivery $recovery s after the kill (the pause: $pause s, from $before_gap s before the kill); new leader $new_leader; answered $ok, stored $stored, ids twice $dup; reconnected: ${reconnected:-none}"
  stop_vipservices
  stop_accountservice
  RABBIT_CLUSTER_DIR=$CLUSTER_DIR_BENCH "$ROOT/dev" rabbit cluster stop >/dev/null 2>&1 || true
fi
PG_DIR=$PG_DIR_BENCH "$ROOT/dev" postgres remove >/dev/null 2>&1 || true
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$((SECONDS - T_START))

# --- docs/benchmarks.md ----------------------------------------------------------------------------
raw_median() {  # BROKER → the median rate of its raw pipelines
  local row rates=()
  for row in "${RAW_ROWS[@]}"; do
    read -r b _ r _ <<<"$row"
    [ "$b" = "$1" ] && rates+=("$r")
  done
  [ ${#rates[@]} -gt 0 ] && median "${rates[@]}" || echo "—"
}
raw_cpu_median() {  # BROKER FIELD(4 client, 5 broker, 6 machine) → the median over its raw pipelines
  local row values=()
  for row in "${RAW_ROWS[@]}"; do
    read -ra f <<<"$row"
    [ "${f[0]}" = "$1" ] && values+=("${f[$(($2 - 1))]}")
  done
  [ ${#values[@]} -gt 0 ] && awk -v m="$(median "${values[@]}")" 'BEGIN { printf "%.0f", m }' || echo "—"
}
run_label() {  # STORE VIPSERVICES ACCOUNTS
  echo "VIP flow, $(store_name "$1"), $2 vipservice$([ "$2" = 1 ] || echo s)$([ "$3" = 1 ] || echo ", reads over $3 accounts")"
}
store_name() { [ "$1" = pg ] && echo PostgreSQL || echo LMDB; }
broker_name() { [ "$1" = cluster ] && echo "3-node cluster, quorum" || echo "one node, classic"; }
CORES=$(nproc)
flow_us() {  # ACCOUNT BROKER VIPS PG (µs; PG may be "—") → their sum
  awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN { print a + b + c + (d ~ /^[0-9]+$/ ? d : 0) }'
}
share() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 <= 0) print "—"; else printf "%.0f", 100 * a / b }'; }
cores() { awk -v r="$1" -v us="$2" 'BEGIN { if (r !~ /^[0-9.]+$/) print "—"; else printf "%.2f", r * us / 1e6 }'; }
bound() { awk -v us="$1" -v n="$CORES" 'BEGIN { if (us + 0 <= 0) print "—"; else printf "%.0f", n * 1e6 / us }'; }

rate_rows() {
  local row b i
  for b in node cluster; do
    i=1
    for row in "${RAW_ROWS[@]}"; do
      read -r rb count r client brk machine busy steal <<<"$row"
      [ "$rb" = "$b" ] || continue
      echo "| $(broker_name "$b") | raw pipeline $i ($count messages) | | | | $(fmt_rps "$r")/s | | | $busy / $steal % |"
      i=$((i + 1))
    done
    for row in "${VIP_ROWS[@]}"; do
      read -r rb store n na account sent ok stored dup load_s answered drain rate acc brk vips pg machine busy steal commits <<<"$row"
      [ "$rb" = "$b" ] || continue
      local r loss
      r=$(ratio "$rate" "$(raw_median "$b")")
      loss=$([ "$stored" = "$ok" ] && [ "$dup" = 0 ] && echo "$stored / $ok" || echo "**$stored / $ok, $dup twice**")
      echo "| $(broker_name "$b") | $(run_label "$store" "$n" "$na") | $loss | $(fmt_rps "$answered")/s for $load_s s | $drain s | **$rate/s** | $r | $(verdict "$r" ">=" "$TARGET_RATIO") | $busy / $steal % |"
    done
  done
}
cpu_rows() {
  local row b flow raw_flow
  for b in node cluster; do
    local client brk machine
    client=$(raw_cpu_median "$b" 4) brk=$(raw_cpu_median "$b" 5) machine=$(raw_cpu_median "$b" 6)
    [ "$client" = "—" ] && continue
    raw_flow=$(awk -v c="$client" -v b="$brk" 'BEGIN { print c + b }')
    echo "| $(broker_name "$b") | raw pipeline (medians) | $client (the bench client) | $brk | | | $raw_flow | $machine | $(bound "$raw_flow")/s | | $(cores "$(raw_median "$b")" "$raw_flow") |"
  done
  for row in "${VIP_ROWS[@]}"; do
    read -r b store n na account sent ok stored dup load_s answered drain rate acc brk vips pg machine busy steal commits <<<"$row"
    flow=$(flow_us "$acc" "$brk" "$vips" "$pg")
    raw_flow=$(awk -v c="$(raw_cpu_median "$b" 4)" -v r="$(raw_cpu_median "$b" 5)" 'BEGIN { print c + r }')
    echo "| $(broker_name "$b") | $(run_label "$store" "$n" "$na") | $acc | $brk | $vips | $([ "$store" = pg ] && echo "$pg" || echo "") | $flow | $machine | $(bound "$flow")/s | $(ratio "$raw_flow" "$flow") | $(cores "$rate" "$flow") |"
  done
}
failover_rows() {
  [ -n "$FAILOVER" ] || { echo "| not measured (SUSTAINED_CLUSTER_CONFIGS empty) | | | |"; return; }
  local leader new recovery before_gap pause ok stored dup sent reconnected
  read -r leader new recovery before_gap pause ok stored dup sent reconnected <<<"$FAILOVER"
  echo "| vip_queue's leader killed (\`kill -9\` of its Erlang VM) | node $leader (then ${new//_/ }) | | |"
  echo "| **kill → first delivery after it** (vipservices' log, ms) | **$recovery s** | ≤ $TARGET_FAILOVER_S s | $(verdict "$recovery" "<=" "$TARGET_FAILOVER_S") |"
  echo "| the pause in deliveries (the longest that ends after the kill) | $pause s, from $before_gap s before the kill | | |"
  reconnected=${reconnected//,/, }
  echo "| reconnected after the kill (a connection on the killed node) | ${reconnected//_/ } | | |"
  echo "| reads sent / answered 2xx / offers stored / ids stored twice | $sent / $ok / $stored / $dup | stored = 2xx, none twice | $([ "$stored" = "$ok" ] && [ "$dup" = 0 ] && echo met || echo "**missed**") |"
}
# One line per configuration whose ratio misses the target: the figures that bound it.
bounds_text() {
  local row out=""
  for row in "${VIP_ROWS[@]}"; do
    read -r b store n na account sent ok stored dup load_s answered drain rate acc brk vips pg machine busy steal commits <<<"$row"
    local r flow raw_flow raw_brk raw_cores run_cores elapsed
    r=$(ratio "$rate" "$(raw_median "$b")")
    awk -v r="$r" -v t="$TARGET_RATIO" 'BEGIN { exit !(r ~ /^[0-9.]+$/ && r < t) }' || continue
    raw_brk=$(raw_cpu_median "$b" 5)
    raw_flow=$(awk -v c="$(raw_cpu_median "$b" 4)" -v b="$raw_brk" 'BEGIN { print c + b }')
    flow=$(flow_us "$acc" "$brk" "$vips" "$pg")
    raw_cores=$(cores "$(raw_median "$b")" "$raw_flow") run_cores=$(cores "$rate" "$flow")
    out+="- $(broker_name "$b"), $(run_label "$store" "$n" "$na"): **$r × raw** = CPU ratio $(ratio "$raw_flow" "$flow") × cores $run_cores / $raw_cores. Per notification the flow's processes used $flow µs of CPU (accountservice $acc, RabbitMQ $brk, vipservices $vips$([ "$store" = pg ] && echo ", PostgreSQL $pg")), the raw pipeline $raw_flow µs; RabbitMQ alone spent $(ratio "$brk" "$raw_brk") × its raw share ($brk against $raw_brk µs). The machine was $busy % busy, steal $steal %."
    if [ "$b" = node ]; then
      out+=" Best case here: $(awk -v n="$CORES" -v rb="$raw_brk" -v f="$flow" -v vb="$brk" 'BEGIN { a = n * rb / f; b = rb / vb; printf "%.2f", (a < b ? a : b) }')."
    fi
    if [ "$store" = pg ] && [ "$commits" != - ]; then
      elapsed=$(awk -v s="$load_s" -v d="$drain" 'BEGIN { print s + d }')
      out+=" PostgreSQL committed $commits write transactions for $stored offers: $(ratio "$stored" "$commits") offers each, one every $(awk -v c="$commits" -v e="$elapsed" 'BEGIN { if (c + 0 > 0) printf "%.1f", e * 1000 / c; else print "—" }') ms."
    fi
    out+=$'\n'
  done
  # PostgreSQL with 3 vipservices on one account and over 3: is the per-account lock the bound?
  local one="" three="" one_gap="" three_gap=""
  for row in "${VIP_ROWS[@]}"; do
    read -r b store n na account sent ok stored dup load_s answered drain rate acc brk vips pg machine busy steal commits <<<"$row"
    if [ "$b" != node ] || [ "$store" != pg ] || [ "$n" != 3 ]; then continue; fi
    local gap
    gap=$(awk -v c="$commits" -v e="$(awk -v s="$load_s" -v d="$drain" 'BEGIN { print s + d }')" 'BEGIN { if (c + 0 > 0) printf "%.1f", e * 1000 / c; else print "—" }')
    if [ "$na" = 1 ]; then one=$rate one_gap=$gap; elif [ "$na" = 3 ]; then three=$rate three_gap=$gap; fi
  done
  if [ -n "$one" ] && [ -n "$three" ]; then
    out+=$'\n'"PostgreSQL, 3 vipservices: $one/s with every read on one account, $three/s over 3 accounts, a commit every $one_gap and $three_gap ms: "
    if awk -v a="$one" -v b="$three" 'BEGIN { exit !(b > 1.2 * a) }'; then
      out+="the per-account lock (ADR 0010) holds three instances on one account back."
    else
      out+="not the per-account lock (ADR 0010): with the accounts apart the commits come no faster."
    fi
    out+=$'\n'
  fi
  printf '%s' "$out"
}

CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain -- accountservice vipservice common bench 2>/dev/null | head -n 1)
WHEN=$(date -u '+%Y-%m-%d %H:%M UTC')
COMMAND="\`bench/vip_sustained.sh\` (one of the benchmarks \`./dev bench\` runs; SUSTAINED_SECONDS=$LOAD_SECONDS SUSTAINED_CONNECTIONS=$CONNECTIONS SUSTAINED_RAW_COUNT=$RAW_COUNT SUSTAINED_CLUSTER_RAW_COUNT=$CLUSTER_RAW_COUNT SUSTAINED_CONFIGS=\"${CONFIGS[*]}\" SUSTAINED_CLUSTER_CONFIGS=\"${CLUSTER_CONFIGS[*]}\"; binaries \`${ACCOUNT_BIN#"$ROOT"/}\`, \`${VIP_BIN#"$ROOT"/}\`, \`${RAW_BIN#"$ROOT"/}\`)"
BOUNDS=$(bounds_text)
# Measured ratio against the CPU ratio, the cores each run got, RabbitMQ's CPU against its raw
# share: "r/c" pairs, a cores range, a factor range.
compare_cpu() {
  local row pairs="" cores_list=() broker_factors=()
  for row in "${VIP_ROWS[@]}"; do
    read -r b store n na account sent ok stored dup load_s answered drain rate acc brk vips pg machine busy steal commits <<<"$row"
    local raw_flow flow
    raw_flow=$(awk -v c="$(raw_cpu_median "$b" 4)" -v r="$(raw_cpu_median "$b" 5)" 'BEGIN { print c + r }')
    flow=$(flow_us "$acc" "$brk" "$vips" "$pg")
    pairs+="${pairs:+, }$(ratio "$rate" "$(raw_median "$b")") / $(ratio "$raw_flow" "$flow")"
    cores_list+=("$(cores "$rate" "$flow")")
    broker_factors+=("$(ratio "$brk" "$(raw_cpu_median "$b" 5)")")
  done
  local b
  for b in node cluster; do
    local raw_flow2
    [ "$(raw_median "$b")" = "—" ] && continue
    raw_flow2=$(awk -v c="$(raw_cpu_median "$b" 4)" -v r="$(raw_cpu_median "$b" 5)" 'BEGIN { print c + r }')
    cores_list+=("$(cores "$(raw_median "$b")" "$raw_flow2")")
  done
  printf '%s;%s;%s\n' "$pairs" \
    "$(printf '%s\n' "${cores_list[@]}" | sort -g | sed -n '1p;$p' | paste -sd' ' | sed 's/ / to /')" \
    "$(printf '%s\n' "${broker_factors[@]}" | sort -g | sed -n '1p;$p' | paste -sd' ' | sed 's/ / to /')"
}
BOUNDS_SECTION=""
if [ -n "$BOUNDS" ]; then
  IFS=';' read -r CPU_PAIRS CORES_RANGE BROKER_FACTORS < <(compare_cpu)
  # The raw rows end with "busy steal", the VIP rows with "busy steal commits".
  BUSY_MIN=$( { for row in "${VIP_ROWS[@]}"; do awk '{ print $(NF - 2) }' <<<"$row"; done
    for row in "${RAW_ROWS[@]}"; do awk '{ print $(NF - 1) }' <<<"$row"; done; } | sort -g | head -n 1)
  BOUNDS_SECTION="**What bounds the missed ratios.** Each VIP notification is made durable three times (the
outbox's synced commit, RabbitMQ's, the offer store's: ADR 0008) and crosses HTTP, the outbox
relay and a consumer; the raw pipeline only publishes and consumes. By the definitions above, a
run's rate is the cores it used over its CPU per message, so **VIP / raw = CPU ratio × (cores the
VIP run used / cores the raw pipeline used)**. The first factor is the work each notification
costs; run by run, measured ratio / CPU ratio: $CPU_PAIRS. The second is how much of the machine
each run got: the machine was at least $BUSY_MIN % busy in every run, and the runs' own processes
used $CORES_RANGE of its $CORES cores, other processes the rest. On a machine that busy each
runnable thread gets its slice, so a run of more threads (the flow's four processes against the
raw pipeline's broker and client) gets more of it, and one that waits (PostgreSQL's commits) less.
**Best case**, on this VM idle: RabbitMQ runs one Erlang scheduler (\`RABBIT_SCHEDULERS\`), so
the raw pipeline reaches one core over RabbitMQ's CPU per message (its client costs a tenth of
that), and the flow no more than $CORES cores over its own CPU per notification, nor one core over
RabbitMQ's: VIP / raw ≤ min($CORES × RabbitMQ's raw µs / the flow's µs, RabbitMQ's raw µs / its VIP µs),
given per run below for the single node. For 0.8 the other processes would need cores of their
own, and RabbitMQ would have to cost at most 1.25 × as much per VIP notification as per raw
message; it costs $BROKER_FACTORS × as much (smaller batches of publishes, confirms, deliveries
and acks than the raw loops': ADR 0008). A synced 4 kB write after another on this disk, from one writer (\`disk_sync_probe\`,
2 s before the runs): $(kv syncs_per_s "$DISK")/s, p50 $(kv p50_ms "$DISK") ms, p99 $(kv p99_ms "$DISK") ms. Run by run:

$BOUNDS

"
fi

section=$(cat <<EOF
<!-- vip_sustained:begin (written by bench/vip_sustained.sh; edits here are overwritten) -->
## VIP flow sustained, against the broker's raw pipeline; leader failover

Measured $WHEN on $CORES cores ($CPU_MODEL), commit $COMMIT${DIRTY:+ (with uncommitted changes)}, by
$COMMAND, in $ELAPSED s. RabbitMQ $RABBIT_VERSION ($SCHEDULERS Erlang scheduler(s) per node: \`./dev\`'s
\`RABBIT_SCHEDULERS\`), PostgreSQL $PG_VERSION (\`./dev postgres\`, fsync on), release builds, fresh
data dirs. Load average before / after: $LOAD_BEFORE / $LOAD_AFTER.

**The machine was shared** with other sessions building and testing while this ran: absolute
rates move with what else runs (see the busy and steal shares of each run). The raw pipelines
run on the same broker, between the VIP runs, so the **ratios** are what counts.

**What is measured.** *Raw pipeline*: \`amqp_raw_bench pipeline\` (bench/amqp_raw_bench.cpp,
rabbitmq-c, no cppblog code): a consumer with manual acks (one \`basic.ack\` per message, prefetch
$PREFETCH as the vipservice) registered on a durable queue, and a publisher on a connection of its own
sending persistent messages with confirms (window $WINDOW), each with a 32-character message
id and a $BODY_BYTES-byte body (a VIP notification's size, taken from a vipservice's log); timed from
the first publish to the ack of the last message. Classic queue on the single node; on the
cluster a quorum queue, the publisher on node 1 (which declares the queue and so leads it), the
consumer on node 2. *VIP flow*: an accountservice and the vipservices (\`offer_cooldown\` 0: every
notification is an offer; log level info), vip_queue classic on the single node, quorum on the
cluster with every service given the cluster's address list. After a 1 s warm-up on another
account, \`paced_http_load --rate 0\` (closed loop: $CONNECTIONS keep-alive connections, each sending its
next VIP read when the previous one is answered) for $LOAD_SECONDS s, then the drain: until the
vipservices have received a notification for every answered read. **Sustained** = offers stored /
(start of the load → the last notification delivered, from the vipservices' log timestamps); the
store is then read back (\`GET /offers/{account}\`): *stored / answered* must be equal, with no
message id twice. LMDB with 3 vipservices: one data dir shared, as on one host (ADR 0005);
PostgreSQL: a data dir each, one database. Every read goes to one VIP account, except in the run
*over 3 accounts* (the connections shared out among 3 drivers, one account each): PostgreSQL
serialises one account's transactions across instances (ADR 0010's advisory lock), and that run
shows whether the lock is what holds three vipservices back. The ratio is over the median of the
same broker's raw pipelines.

| broker | run | stored / answered | answered during the load | drain after it | sustained, end to end | VIP / raw | target ≥ $TARGET_RATIO | busy / steal |
|---|---|---:|---:|---:|---:|---:|---|---:|
$(rate_rows)

**CPU per notification** (µs; user + system time of each process, all its threads, from
\`/proc\`, over the load and its drain, per answered read; for the raw pipeline, per message):
*bound* is what $CORES cores running nothing but those processes could carry; *CPU ratio* is the
raw pipeline's CPU over the flow's, the VIP / raw ratio a CPU-bound machine would show; *cores
used* is the sustained rate times the CPU per message: the share of the machine the run got.

| broker | run | accountservice | RabbitMQ | vipservices | PostgreSQL | the flow's processes | the whole machine (other sessions too) | bound | CPU ratio | cores used |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(cpu_rows)

$BOUNDS_SECTION**Failover.** On the cluster, $FAILOVER_SECONDS s of VIP reads at a steady $FAILOVER_RATE/s
(\`paced_http_load\`), and $FAILOVER_KILL_AFTER s in, \`kill -9\` of the Erlang VM of the node leading vip_queue
(\`rabbitmqctl list_queues name leader\`). The first delivery after the kill is the end of the
longest pause between two deliveries (the vipservices' "Got a message" lines, all instances) that
ends after the kill: a delivery logged just after the kill but before that pause was already on its way.

| | value | target | |
|---|---:|---:|---|
$(failover_rows)
<!-- vip_sustained:end -->
EOF
)
write_section vip_sustained "$section"
say "wrote the VIP flow sustained section of ${DOC#"$ROOT"/}"
