#!/usr/bin/env bash
# Runs the full benchmark once the machine is quiet: probes the tight-loop ceiling and a bare
# fdatasync every ~30 s and starts `node dist/bench/throughput.js --rounds 5 --seconds 2` after
# two quiet probes in a row. On a shared host the load swings 2-4x within minutes, and a
# ratio against a one-thread ceiling is only comparable between quiet runs.
#
#   npm run build && bash bench/when-quiet.sh [MIN_CEILING_PER_S] [MAX_FSYNC_P50_US] [GIVE_UP_AFTER_S] [OUT]
#
# Defaults: 800000, 200, 3600, bench-quiet.txt. Exits 1 if no quiet spell came in time.
set -euo pipefail
cd "$(dirname "$0")/.."
min_ceiling=${1:-800000}
max_p50=${2:-200}
give_up=$(( $(date +%s) + ${3:-3600} ))
out=${4:-bench-quiet.txt}
probe() {
  node dist/bench/throughput.js --child "$1" --seconds 1 2>/dev/null | tail -1 |
    node -e "process.stdout.write(String(Math.round(JSON.parse(require('fs').readFileSync(0, 'utf8'))['$2'])))"
}
quiet=0
while [ "$(date +%s)" -lt "$give_up" ]; do
  ceiling=$(probe 'ceiling: create + encode' entriesPerSec)
  p50=$(probe 'bare 4 KiB write + fdatasync' p50Us)
  echo "$(date -u +%T) ceiling ${ceiling}/s, fdatasync p50 ${p50} µs"
  if [ "$ceiling" -ge "$min_ceiling" ] && [ "$p50" -le "$max_p50" ]; then quiet=$((quiet + 1)); else quiet=0; fi
  if [ "$quiet" -ge 2 ]; then
    echo "quiet: running the benchmark into $out"
    node dist/bench/throughput.js --rounds 5 --seconds 2 | tee "$out"
    exit 0
  fi
  sleep 30
done
echo "no quiet spell before the time limit"
exit 1
