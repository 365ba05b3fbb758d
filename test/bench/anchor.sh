#!/bin/bash
# xmppd vs ejabberd in one session: REPS interleaved repetitions (order alternates per rep), one session id,
# then summarize.js (median [min-max] + xmppd/ejabberd ratio column).
#   test/bench/anchor.sh REPS TLS(0|1) [extra run.sh args, e.g. --rate 2000]
#   BENCH_SESSION=name test/bench/anchor.sh 2 0 --rate 2000
# Also: BENCH_SERVERS="xmppd prosody" to compare with prosody instead (or "xmppd ejabberd prosody").
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPS=${1:-2}; TLS=${2:-0}; shift 2 || true
SERVERS=${BENCH_SERVERS:-"xmppd ejabberd"}
SESSION=${BENCH_SESSION:-xmppd-vs-ejabberd-$(date +%Y%m%dT%H%M)-tls$TLS}
WORK=${BENCH_WORKDIR:-${TMPDIR:-/tmp}/xmppd-bench}
for ((r=1; r<=REPS; r++)); do
  order=$SERVERS; (( r % 2 )) || order=$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for s in $order; do
    echo "=== rep $r/$REPS $s tls=$TLS session=$SESSION $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    timeout 1200 node "$HERE/run-bench.js" --server "$s" --tls "$TLS" --session "$SESSION" --label "rep$r" "$@" > /dev/null \
      || echo "run failed rc=$? ($s rep $r)" >&2
  done
done
node "$WORK/harness/summarize.js" "$SESSION" --base ejabberd --md
echo "$SESSION"
