#!/usr/bin/python3
"""CLI latency on a large store: `casedesk queue list|search|show` end to end (process start, config,
store open, query, JSON out), each run N times; prints p50 / p95 per command and the output size.

Uses the store web_bench builds (default /tmp/casedesk-web-bench-v2-100000.db: run
`build/bench/web_bench` once first) through a throw-away config; nothing is written to the store
except what opening it does (migrations, when it is older).

usage: /usr/bin/python3 bench/cli_bench.py [--bin build/daemon/casedesk] [--db FILE] [--runs 30]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', default=os.path.join(HERE, '..', 'build', 'daemon', 'casedesk'))
    ap.add_argument('--db', default='/tmp/casedesk-web-bench-v2-100000.db')
    ap.add_argument('--runs', type=int, default=30)
    args = ap.parse_args()
    if not os.path.exists(args.db):
        sys.exit('cli_bench: no store at %s (run build/bench/web_bench first)' % args.db)
    with tempfile.TemporaryDirectory(prefix='cd-cli-') as d:
        config = os.path.join(d, 'casedesk.toml')
        with open(config, 'w') as f:
            f.write('[imap]\nurl = "imaps://127.0.0.1:10993/INBOX"\nusername = "intake@example.test"\n'
                    'password = "unused"\n[smtp]\nurl = "smtp://127.0.0.1:2525"\n'
                    'from = "Coding Desk <desk@example.test>"\n[store]\npath = "%s"\n' % args.db)
        first = subprocess.run([args.bin, 'queue', 'list', '--limit', '1', '--json', '--config', config],
                               capture_output=True, text=True, check=True).stdout
        ref = json.loads(first)[0]['ref']
        cmds = [
            ('queue list --limit 50', ['queue', 'list', '--limit', '50']),
            ('queue list --status new --sort received --limit 50',
             ['queue', 'list', '--status', 'new', '--sort', 'received', '--limit', '50']),
            ('queue list --overdue --sort priority --limit 50',
             ['queue', 'list', '--overdue', '--sort', 'priority', '--limit', '50']),
            ('queue list --mine --as bench --limit 50', ['queue', 'list', '--mine', '--as', 'bench', '--limit', '50']),
            ('queue list --limit 50 --offset 25000', ['queue', 'list', '--limit', '50', '--offset', '25000']),
            ('queue search meniscectomy', ['queue', 'search', 'meniscectomy']),
            ('queue search 50000 (one case)', ['queue', 'search', '50000']),
            ('queue show ' + ref, ['queue', 'show', ref]),
        ]
        print('cli_bench: %s, %d runs each, --json' % (args.db, args.runs))
        for name, argv in cmds:
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                r = subprocess.run([args.bin, *argv, '--json', '--config', config], capture_output=True)
                times.append((time.perf_counter() - t) * 1000)
                if r.returncode != 0:
                    sys.exit('cli_bench: %s failed (%d): %s' % (name, r.returncode, r.stderr[-300:]))
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            print('%-52s p50 %6.1f ms  p95 %6.1f ms  output %d KB' % (name, times[len(times) // 2], p95,
                                                                    len(r.stdout) // 1024))


if __name__ == '__main__':
    main()
