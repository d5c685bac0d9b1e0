#!/usr/bin/env bash
# The long version of tests/integration/test_crash.py: more mails and more SIGKILLs than CI runs.
# Starts its own Dovecot + SMTP sink on free loopback ports (scripts/lib/mailservers), runs the
# crash test against them and stops them by PID, also on errors and Ctrl-C.
#
#   bench/crash_bench.sh [--bin build/daemon/casedesk] [--mails 2000] [--kills 40] [--seed N]
#
# Prints the test's summary line: mails, kills, repeated acks (at most one per kill) and the case
# count after each kill.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/daemon/casedesk mails=2000 kills=40 seed=0
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$(realpath "$2"); shift 2 ;;
    --mails) mails=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "usage: $0 [--bin FILE] [--mails N] [--kills N] [--seed N]" >&2; exit 64 ;;
  esac
done
[ -x "$bin" ] || { echo "crash_bench: no casedesk binary at $bin (build first)" >&2; exit 66; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ms=$(mktemp -d /tmp/cdcb-XXXXXX)
trap '"$here/scripts/lib/mailservers" stop "$ms" >/dev/null 2>&1 || true; rm -rf "$ms"' EXIT
"$here/scripts/lib/mailservers" start "$ms" "$(free_port)" "$(free_port)" "$(free_port)" >/dev/null
cd "$here/tests/integration"
start=$(date +%s)
rc=0
CASEDESK_BIN=$bin CASEDESK_MAILSERVERS=$ms CASEDESK_SOURCE=$here PYTHONDONTWRITEBYTECODE=1 \
  CASEDESK_CRASH_MAILS=$mails CASEDESK_CRASH_KILLS=$kills CASEDESK_CRASH_SEED=$seed \
  /usr/bin/python3 -m unittest -v test_crash >"$ms/out.txt" 2>&1 || rc=$?
grep -E "crash test:" "$ms/out.txt" | sed 's/^.* \.\.\. //' || true
[ $rc -eq 0 ] || tail -30 "$ms/out.txt"
echo "crash_bench: $(( $(date +%s) - start )) s, $([ $rc -eq 0 ] && echo passed || echo FAILED)"
exit $rc
