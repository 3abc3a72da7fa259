#!/usr/bin/env bash
# HTTP benchmark of the accountservice against nginx, and the service's footprint.
#
#   bench/http_accounts.sh            (run by ./dev bench after building the release preset)
#
# Starts the release accountservice (temporary data dir, free port) and a private
# nginx (one worker, keep-alive, access_log off) returning the same JSON body on
# another port; runs `wrk -t2 -c50 -d10s --latency` against each in turn, three
# rounds; writes the medians and their ratio, plus resident memory (VmRSS, PSS) idle
# and after the load and the time from process start to the first 200 on /health,
# into the HTTP section of docs/benchmarks.md.
#
# Environment: ACCOUNTSERVICE_BIN (default build/release/bin/accountservice),
# ROUNDS (3), DURATION (10s), CONNECTIONS (50), THREADS (2), BENCH_DOC (docs/benchmarks.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${ACCOUNTSERVICE_BIN:-$ROOT/build/release/bin/accountservice}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
# A plain account: 10000 is a VIP, whose reads go through the outbox (bench/vip_end_to_end.sh).
TARGET=/accounts/10001

# shellcheck source=bench/bench-lib.bash
. "$ROOT/bench/bench-lib.bash"

[ -x "$BIN" ] || die "$BIN not found; build it first: ./dev build release"

# --- tools ------------------------------------------------------------------------------
need_package() {  # COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "/usr/sbin/$1" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "$1 is missing; install it with: sudo apt-get install -y $2"
  fi
  say "installing $2"
  apt-get update -qq
  # policy-rc.d keeps the package's own nginx service from starting: we run a private one.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >&2 || {
    [ $created = 1 ] && rm -f "$policy"; die "apt-get install $2 failed"; }
  [ $created = 1 ] && rm -f "$policy"
  return 0
}
need_package wrk wrk
need_package nginx nginx-light
need_package g++ g++
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d /tmp/cppblog-bench-http.XXXXXX)
SERVICE_PID=""
NGINX_PID=""
cleanup() {
  [ -n "$SERVICE_PID" ] && kill -TERM "$SERVICE_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null || true
  sleep 0.2
  rm -rf "$WORK"
}
trap cleanup EXIT


# --- time to healthy: a tight C++ poll loop ------------------------------------------------
# Forks and execs the service, then connects to /health as fast as it can until a 200
# arrives; prints "<pid> <microseconds>" and leaves the service running.
cat >"$WORK/time_to_healthy.cpp" <<'CPP'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
int main(int argc, char** argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: time_to_healthy PORT BINARY ARGS...\n"); return 2; }
  const int port = std::atoi(argv[1]);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  // The service writes to stderr only: its stdout must not hold the caller's pipe open.
  if (pid == 0) { dup2(2, 1); execv(argv[2], argv + 2); std::perror("exec"); _exit(127); }
  const char request[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        write(fd, request, sizeof request - 1) == static_cast<ssize_t>(sizeof request - 1)) {
      char buffer[64] = {};
      if (read(fd, buffer, sizeof buffer - 1) >= 12 && std::strncmp(buffer + 9, "200", 3) == 0) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start).count();
        close(fd);
        std::printf("%d %lld\n", pid, static_cast<long long>(us));
        return 0;
      }
    }
    close(fd);
  }
  std::printf("%d -1\n", pid);
  return 1;
}
CPP
g++ -O2 -std=c++20 -o "$WORK/time_to_healthy" "$WORK/time_to_healthy.cpp"

START_US=""
start_service() {  # DATA_DIR PORT LOG → sets SERVICE_PID and START_US (microseconds to healthy)
  local out
  mkdir -p "$WORK/no-config"
  out=$("$WORK/time_to_healthy" "$2" "$BIN" --config-dir "$WORK/no-config" \
    --set "server_port=$2" --set "data_dir=$1" 2>>"$3" </dev/null) || true
  SERVICE_PID=${out% *}
  START_US=${out#* }
  [ "$START_US" != "-1" ] || { tail -n 5 "$3" >&2; die "accountservice did not become healthy within 10 s"; }
}

stop_service() {
  [ -n "$SERVICE_PID" ] || return 0
  kill -TERM "$SERVICE_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 200); do kill -0 "$SERVICE_PID" 2>/dev/null || break; sleep 0.01; done
  SERVICE_PID=""
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }


LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- time to healthy, cold (fresh data dir: creates and seeds the store) and warm --------
say "time to healthy: 5 cold starts, 5 warm starts"
cold=() warm=()
for i in 1 2 3 4 5; do
  port=$(free_port)
  start_service "$WORK/data-ttl-$i" "$port" "$WORK/service-ttl.log"
  cold+=("$START_US")
  stop_service
  port=$(free_port)
  start_service "$WORK/data-ttl-$i" "$port" "$WORK/service-ttl.log"
  warm+=("$START_US")
  stop_service
done
cold_ms=$(median "${cold[@]}" | awk '{printf "%.1f", $1/1000}')
warm_ms=$(median "${warm[@]}" | awk '{printf "%.1f", $1/1000}')
cold_max_ms=$(printf '%s\n' "${cold[@]}" | sort -g | tail -1 | awk '{printf "%.1f", $1/1000}')
say "time to healthy: cold median $cold_ms ms (max $cold_max_ms), warm median $warm_ms ms"

# --- the service under test ---------------------------------------------------------------
SVC_PORT=$(free_port)
start_service "$WORK/data" "$SVC_PORT" "$WORK/service.log"
sleep 0.5  # let start-up settle before the idle reading
idle_rss=$(rss_kb "$SERVICE_PID"); idle_pss=$(pss_kb "$SERVICE_PID")
BODY=$(curl -sf "http://127.0.0.1:$SVC_PORT$TARGET") || die "GET $TARGET failed"
say "accountservice pid $SERVICE_PID on :$SVC_PORT, idle RSS ${idle_rss} kB, PSS ${idle_pss} kB"
say "body (${#BODY} bytes): $BODY"

# --- nginx serving the same body ------------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      default_type application/json;
      return 200 '$BODY';
    }
  }
}
EOF
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>>"$WORK/nginx/error.log" &
NGINX_PID=$!
for i in $(seq 1 200); do curl -sf "http://127.0.0.1:$NGINX_PORT$TARGET" >/dev/null && break; sleep 0.02; done
[ "$(curl -sf "http://127.0.0.1:$NGINX_PORT$TARGET")" = "$BODY" ] || die "nginx did not serve the body; see $WORK/nginx/error.log"

# --- load -----------------------------------------------------------------------------------------
run_wrk() {  # PORT NAME ROUND → "rps p50_ms p99_ms"
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$1$TARGET")
  printf '%s\n' "$out" >"$WORK/wrk-$2-$3.txt"
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
  [ -z "$errors" ] || say "$2 round $3: $errors"
  echo "$rps $p50 $p99"
}

svc_rps=() svc_p50=() svc_p99=() ngx_rps=() ngx_p50=() ngx_p99=()
for round in $(seq 1 "$ROUNDS"); do
  read -r r a b < <(run_wrk "$SVC_PORT" accountservice "$round")
  svc_rps+=("$r") svc_p50+=("$a") svc_p99+=("$b")
  read -r r2 a2 b2 < <(run_wrk "$NGINX_PORT" nginx "$round")
  ngx_rps+=("$r2") ngx_p50+=("$a2") ngx_p99+=("$b2")
  say "round $round/$ROUNDS: accountservice $r req/s p50 $a ms p99 $b ms | nginx $r2 req/s p50 $a2 ms p99 $b2 ms"
done

load_rss=$(rss_kb "$SERVICE_PID"); load_pss=$(pss_kb "$SERVICE_PID")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
say "after load: RSS ${load_rss} kB, PSS ${load_pss} kB"

S_RPS=$(median "${svc_rps[@]}"); S_P50=$(median "${svc_p50[@]}"); S_P99=$(median "${svc_p99[@]}")
N_RPS=$(median "${ngx_rps[@]}"); N_P50=$(median "${ngx_p50[@]}"); N_P99=$(median "${ngx_p99[@]}")
RATIO=$(awk -v s="$S_RPS" -v n="$N_RPS" 'BEGIN {printf "%.2f", s / n}')
say "median: accountservice $(fmt_rps "$S_RPS") req/s, nginx $(fmt_rps "$N_RPS") req/s, ratio $RATIO"

# --- docs/benchmarks.md: replace the HTTP section ------------------------------------------------
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
NPROC=$(nproc)
DATE=$(date -u +%Y-%m-%d)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
section=$(cat <<EOF
<!-- http_accounts:begin (written by bench/http_accounts.sh; edits here are overwritten) -->
## HTTP: accountservice vs nginx

Measured $DATE $(date -u +%H:%M) UTC on $NPROC cores ($CPU), commit $COMMIT, by \`./dev bench\`
(\`bench/http_accounts.sh\`, binary \`${BIN#"$ROOT"/}\`): \`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` on
\`GET $TARGET\` against the release accountservice (statically linked, default threads =
cores) and against $NGINX_VERSION (one worker, keep-alive, access_log off) returning the same
${#BODY}-byte body with \`return 200\`; wrk, the server and nginx share the machine. $ROUNDS rounds,
each alternating service then nginx; medians. Load average before / after: $LOAD_BEFORE /
$LOAD_AFTER (anything else running shares the cores: absolute figures move with the load,
the interleaved ratio less so).

| | req/s | p50 | p99 |
|---|---:|---:|---:|
| accountservice | $(fmt_rps "$S_RPS") | $S_P50 ms | $S_P99 ms |
| nginx | $(fmt_rps "$N_RPS") | $N_P50 ms | $N_P99 ms |
| ratio accountservice / nginx | $RATIO | | |

Rounds (req/s, accountservice / nginx): $(for i in "${!svc_rps[@]}"; do printf '%s / %s; ' "$(fmt_rps "${svc_rps[$i]}")" "$(fmt_rps "${ngx_rps[$i]}")"; done)

Footprint of the accountservice:

| | VmRSS | PSS |
|---|---:|---:|
| idle, 0.5 s after start | $(mb "$idle_rss") MB | $(mb "$idle_pss") MB |
| after the $ROUNDS load rounds | $(mb "$load_rss") MB | $(mb "$load_pss") MB |

Time from process start (fork) to the first 200 on \`/health\` (a C++ loop polling as fast
as it can), 5 starts each: cold (new data dir: creates and seeds the store) median
$cold_ms ms (max $cold_max_ms ms); warm (existing store) median $warm_ms ms.

| target | value | |
|---|---:|---|
| req/s ≥ 0.9 × nginx | $RATIO × | $(verdict "$RATIO" ">=" 0.9) |
| p99 ≤ 2 ms | $S_P99 ms | $(verdict "$S_P99" "<=" 2) |
| RSS idle ≤ 4 MB | $(mb "$idle_rss") MB | $(verdict "$(mb "$idle_rss")" "<=" 4) |
| time to healthy ≤ 10 ms (cold) | $cold_ms ms | $(verdict "$cold_ms" "<=" 10) |

For scale (from the issue): the Go original reaches about 0.19 × nginx (≈19,000 vs ≈100,000
req/s, p99 ≈ 20 ms), 9.5 MB RSS and 32 ms to healthy.
<!-- http_accounts:end -->
EOF
)
write_section http_accounts "$section"
say "wrote the HTTP section of $DOC"
