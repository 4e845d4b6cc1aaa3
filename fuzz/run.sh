#!/usr/bin/env bash
# Run every fuzz target: fuzz/run.sh SECONDS [JOBS]   (default 300 s, 2 targets at a time)
# Writes fuzz/logs/<target>.log; prints executions and the outcome of each.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
jobs=${2:-2}
export RUSTC_BOOTSTRAP=1
export LSAN_OPTIONS="suppressions=$(pwd)/lsan.supp"
python3 seed.py
cargo fuzz build -O || exit 1
mkdir -p logs
targets=${TARGETS:-$(cargo fuzz list)}
for t in $targets; do mkdir -p "corpus/$t"; done
run() {
    local t=$1
    cargo fuzz run -O "$t" corpus/"$t" -- -max_total_time="$secs" -max_len=65536 \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 >"logs/$t.log" 2>&1
    local rc=$?
    local execs
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "logs/$t.log" | awk '{print $2}')
    [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "logs/$t.log" | tail -1 | tr -d '#')
    printf '%-16s rc=%d executions=%s\n' "$t" "$rc" "${execs:-?}"
}
export -f run
export secs
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'run {}'
