# Shared by the bench/*.sh scripts: sourced, not a benchmark of its own (./dev bench runs
# bench/*.sh only). The sourcing script sets ROOT (the repository) and DOC (the Markdown file
# its sections go to) first.

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Configures BUILD_DIR with `cmake --preset bench` when it is build/bench and not yet configured;
# any other directory must be configured already.
configure_bench_build() {  # BUILD_DIR
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
  [ -f "$1/build.ninja" ] && return 0
  [ "$1" = "$ROOT/build/bench" ] || die "$1 is not a configured build directory"
  cmake --preset bench -S "$ROOT" >&2 || die "cmake --preset bench failed"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((30000 + RANDOM % 20000))
}

to_ms() {  # wrk latency such as 812.00us, 1.23ms, 2.01s → milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
fmt_rps() { awk -v r="$1" 'BEGIN {printf "%.0f", r}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# Replaces the section NAME of DOC (from its "<!-- NAME:begin" line to its "<!-- NAME:end"
# line) with TEXT, or appends TEXT when DOC has no such section; creates DOC when missing.
write_section() {  # NAME TEXT
  mkdir -p "$(dirname "$DOC")"
  # shellcheck disable=SC2016  # backquotes are Markdown
  [ -f "$DOC" ] || printf '# cppblog benchmarks\n\nFigures written by the scripts in `bench/` (`./dev bench`). Only measured numbers.\n\n' >"$DOC"
  if grep -q "<!-- $1:begin" "$DOC"; then
    local tmp
    tmp=$(mktemp "$DOC.XXXXXX")
    NAME=$1 SECTION=$2 awk '
      index($0, "<!-- " ENVIRON["NAME"] ":begin") == 1 { print ENVIRON["SECTION"]; skip = 1; next }
      index($0, "<!-- " ENVIRON["NAME"] ":end") == 1 { skip = 0; next }
      !skip { print }' "$DOC" >"$tmp" && mv "$tmp" "$DOC"
  else
    printf '\n%s\n' "$2" >>"$DOC"
  fi
}

# CPU accounting from /proc, in clock ticks (1/100 s here: getconf CLK_TCK).
# The machine's: "busy idle steal" summed over every CPU since boot. Busy is user, nice, system,
# irq and softirq; idle counts iowait too. Steal is time a CPU of this virtual machine was ready
# to run but its host ran something else.
machine_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $5 + $6, $9; exit }' /proc/stat
}
# "busy% idle% steal%" of all CPU time between two machine_ticks snapshots.
machine_share() {  # "BEFORE" "AFTER"
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
    busy = y[1] - x[1]; idle = y[2] - x[2]; steal = y[3] - x[3]; all = busy + idle + steal
    if (all <= 0) { print "0.0 0.0 0.0"; exit }
    printf "%.1f %.1f %.1f\n", 100 * busy / all, 100 * idle / all, 100 * steal / all }'
}
# User plus system ticks of the processes (all their threads); 0 for one that is gone.
process_ticks() {  # PID...
  local pid total=0 t
  for pid in "$@"; do
    # Field 2 (the name) may hold spaces: count from the closing parenthesis.
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
# Microseconds of CPU per request: TICKS over REQUESTS.
us_per_request() {  # TICKS REQUESTS
  awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n <= 0) { print "—"; exit }
    printf "%.0f", t / hz * 1e6 / n }'
}

# How many Erlang schedulers the private node in DIR runs (./dev's RABBIT_SCHEDULERS), or "?".
rabbit_schedulers() {  # DIR
  RABBIT_DIR=$1 "$ROOT/dev" rabbit ctl -q eval 'erlang:system_info(schedulers_online).' 2>/dev/null |
    tr -dc '0-9' | grep . || echo "?"
}

# Waits until http://127.0.0.1:PORT/health answers 200; dies naming the service when its process
# exits first (with its log's last lines) or after TIMEOUT_S (60 unless given).
wait_healthy() {  # NAME PORT PID LOG [TIMEOUT_S]
  local limit=${5:-60}
  local deadline=$((SECONDS + limit))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/health")" = 200 ]; do
    kill -0 "$3" 2>/dev/null || { tail -n 5 "$4" >&2; die "$1 exited during start (its log's last lines above)"; }
    [ $SECONDS -lt $deadline ] || die "$1 did not become healthy on :$2 within $limit s (log: $4)"
    sleep 0.05
  done
}

# "met" or "**missed**" for VALUE OP(>= or <=) TARGET; "not measured" when VALUE is no number.
verdict() {  # VALUE OP TARGET
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v !~ /^[0-9.]+$/) { print "not measured"; exit }
    ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "met" : "**missed**" }'
}

kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }  # KEY LINE → the value of KEY=value in LINE
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }  # PID
