#!/usr/bin/python3
"""Backlog bench: N mails (default 10,000) already in INBOX, seeded as fresh -> all cases and acks.

Starts its own Dovecot + SMTP sink (scripts/lib/mailservers) in a short temp folder on free loopback
ports, writes N mails with distinct senders straight into the user's Maildir `new/` folder (Dovecot
takes them as new, unseen mail that arrived now: INTERNALDATE = file mtime), then times casedesk from
its start until every mail has a case and every ack has been accepted by the sink:
  --mode once (default): `casedesk serve --once` repeated until the sink holds N acks
  --mode serve:          one `casedesk serve` (IDLE on, poll_interval 30s) until the sink holds N acks
                         (stops early when no ack arrived for --stall seconds: see bench/README.md)
Reports total seconds (goal <= 60 s), mails/s, the peak RSS of casedesk (VmHWM from /proc, sampled
until just before it exits; --mode once also prints getrusage(RUSAGE_CHILDREN).ru_maxrss), and a
timeline from the daemon's log (intake pass vs outbox pass) so the slow phase is visible.
Everything it starts is stopped by PID, also on Ctrl-C or errors.

usage: /usr/bin/python3 bench/backlog_bench.py [--mails 10000] [--mode once|serve]
       [--bin build-lat/daemon/casedesk] [--timeout 1800] [--debug-log] [--keep]
"""
import argparse
import datetime
import grp
import json
import os
import pwd
import re
import resource
import signal
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from latency_bench import Desk, MailServers, default_bin  # noqa: E402

USER = 'intake3@example.test'


def make_mail(i, run, date):
    sender = 'backlog-%s-%05d@clinic%d.example' % (run, i, i % 97)
    body = ('Hello desk,\r\n\r\nCan we bill 64635-50 with 64636-50, dx M47.816 and M54.16?\r\n'
            'Backlog question %d: J0585 x 100 units, 99213-25.\r\n\r\nThanks,\r\nDana\r\n' % i)
    headers = [
        ('Return-Path', '<%s>' % sender),
        ('From', 'Dana Biller %d <%s>' % (i, sender)),
        ('To', 'Coding Desk <desk@example.test>'),
        ('Subject', 'Backlog bench %s #%d' % (run, i)),
        ('Date', date),
        ('Message-ID', '<%s.%d@clinic.example>' % (uuid.uuid4().hex, i)),
        ('MIME-Version', '1.0'),
        ('Content-Type', 'text/plain; charset=utf-8'),
        ('Content-Transfer-Encoding', '8bit'),
    ]
    return sender, (''.join('%s: %s\r\n' % kv for kv in headers) + '\r\n' + body).encode()


def seed_maildir(servers, n, run):
    """Writes n mails into USER's Maildir new/ (as Dovecot's mail user), like a local delivery."""
    m = servers.imap(USER)  # first login creates the Maildir (and Processed/Failed)
    m.select('INBOX')
    m.logout()
    maildir = servers.maildir(USER)
    new, tmp = os.path.join(maildir, 'new'), os.path.join(maildir, 'tmp')
    st = os.stat(maildir)
    uid, gid = st.st_uid, st.st_gid
    date = time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())
    host = 'bench'
    now = int(time.time())
    senders = []
    for i in range(n):
        sender, raw = make_mail(i, run, date)
        senders.append(sender)
        name = '%d.M%dP%d.%s' % (now, i, os.getpid(), host)
        tpath = os.path.join(tmp, name)
        with open(tpath, 'wb') as f:
            f.write(raw)
        if os.geteuid() == 0:
            os.chown(tpath, uid, gid)
        os.rename(tpath, os.path.join(new, name))
    return senders


def vm_hwm_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sink_file(servers, k):
    return os.path.join(servers.sink_dir, '%04d.eml' % k)


def last_arrival(servers, k):
    with open(os.path.join(servers.sink_dir, '%04d.json' % k)) as f:
        return json.load(f).get('arrived_at')


LOG_TS = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) (\w+) (.*)$')


def timeline(log_text, t_start):
    """Seconds after t_start of the phases, from spdlog's local-time stamps."""
    marks = {}

    def mark(key, t):
        marks.setdefault(key, t)

    last = {}
    for line in log_text.splitlines():
        m = LOG_TS.match(line)
        if not m:
            continue
        t = datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S.%f').timestamp() - t_start
        msg = m.group(3)
        if msg.startswith('intake: mailbox has'):
            mark('listing done (debug log)', t)
        elif msg.startswith('intake: uid') and '-> case' in msg:
            mark('first case committed', t)
            last['last case committed'] = t
        elif msg.startswith('intake pass:'):
            mark('intake pass logged', t)
        elif msg.startswith('outbox:') and msg.endswith('sent'):
            mark('first ack sent', t)
            last['last ack sent'] = t
        elif msg.startswith('outbox pass:'):
            mark('outbox pass logged', t)
    marks.update(last)
    return sorted(marks.items(), key=lambda kv: kv[1])


def on_sigterm(*_):
    raise KeyboardInterrupt()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mails', type=int, default=10000)
    ap.add_argument('--mode', choices=['serve', 'once'], default='once')
    ap.add_argument('--stall', type=float, default=90,
                    help='serve mode: stop when no new ack arrived for this many seconds')
    ap.add_argument('--bin', default=default_bin())
    ap.add_argument('--timeout', type=float, default=1800, help='give up after this many seconds')
    ap.add_argument('--debug-log', action='store_true', help='SPDLOG_LEVEL=debug for the daemon')
    ap.add_argument('--verbose', action='store_true', help='one line per serve --once run')
    ap.add_argument('--keep', action='store_true', help='keep the temp folder (logs, store, sink)')
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit('casedesk binary not found: %s (build it or pass --bin)' % args.bin)
    signal.signal(signal.SIGTERM, on_sigterm)

    n = args.mails
    servers = MailServers(prefix='cdbl-')
    desk = None
    try:
        servers.start()
        run = uuid.uuid4().hex[:6]
        t = time.monotonic()
        senders = seed_maildir(servers, n, run)
        print('mail servers in %s; seeded %d mails into %s/new in %.1f s' % (
            servers.dir, n, servers.maildir(USER), time.monotonic() - t), flush=True)

        desk = Desk(args.bin, servers, USER, idle=True, poll_interval='30s', name='backlog')
        env = {'SPDLOG_LEVEL': 'debug'} if args.debug_log else {}
        hwm, runs, done, stalled, rcs = 0, 0, False, False, {}
        acks, last_growth = 0, time.monotonic()
        ru_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t_start = time.time()
        deadline = time.monotonic() + args.timeout
        next_progress = time.monotonic() + 10
        while not done and not stalled and time.monotonic() < deadline:
            proc = desk.start(*(['--once'] if args.mode == 'once' else []), env=env)
            runs += 1
            while time.monotonic() < deadline:
                v = vm_hwm_kb(proc.pid)
                if v:
                    hwm = max(hwm, v)
                while os.path.exists(sink_file(servers, acks + 1)):
                    acks += 1
                    last_growth = time.monotonic()
                if acks >= n:
                    done = True
                    break
                if proc.poll() is not None:
                    break
                if args.mode == 'serve' and acks > 0 and time.monotonic() - last_growth > args.stall:
                    stalled = True
                    print('  no new ack for %.0f s: stalled at %d acks' % (args.stall, acks), flush=True)
                    break
                if time.monotonic() >= next_progress:
                    print('  %5.0f s: %d acks in the sink' % (time.time() - t_start, acks), flush=True)
                    next_progress += 10
                time.sleep(0.05)
            if args.mode == 'once':
                proc.wait()
                rcs[proc.returncode] = rcs.get(proc.returncode, 0) + 1
                if args.verbose:
                    print('  run %d: exit %d after %.2f s, %d acks' % (runs, proc.returncode,
                                                                      time.time() - t_start, acks), flush=True)
                if proc.returncode not in (0, 75):
                    raise RuntimeError('serve --once exited %d:\n%s' % (proc.returncode, desk.log_text()[-3000:]))
        t_end = last_arrival(servers, n) if done else time.time()
        v = vm_hwm_kb(desk.proc.pid) if desk.proc else None
        if v:
            hwm = max(hwm, v)
        desk.stop()
        ru_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        ru = ru_after.ru_maxrss
        cpu = (ru_after.ru_utime - ru_before.ru_utime, ru_after.ru_stime - ru_before.ru_stime)

        # Verification: every mail a case, every sender exactly one ack, INBOX empty.
        r = desk.run('status', '--json', '--config', desk.config)
        status = json.loads(r.stdout) if r.returncode == 0 else {}
        rcpts = {}
        for name in os.listdir(servers.sink_dir):
            if name.endswith('.json'):
                with open(os.path.join(servers.sink_dir, name)) as f:
                    for rc in json.load(f)['rcpt_tos']:
                        rcpts[rc.lower()] = rcpts.get(rc.lower(), 0) + 1
        acked = sum(1 for s in senders if rcpts.get(s.lower(), 0) >= 1)
        dup = sum(1 for s in senders if rcpts.get(s.lower(), 0) > 1)
        m = servers.imap(USER)
        typ, data = m.select('INBOX', readonly=True)
        left = int(data[0]) if typ == 'OK' else -1
        m.logout()

        total = t_end - t_start
        print('\nbacklog: %d mails seeded fresh in INBOX, casedesk serve%s (%d run%s%s)' % (
            n, ' --once' if args.mode == 'once' else '', runs, '' if runs == 1 else 's',
            (', exit codes ' + ', '.join('%d x%d' % kv for kv in sorted(rcs.items()))) if rcs else ''))
        for k, v in timeline(desk.log_text(), t_start):
            print('  %7.2f s  %s' % (v, k))
        print('total %.1f s (daemon start -> last ack accepted by the sink)%s' % (
            total, '' if done else '  [%s after %d/%d acks]' % ('STALLED' if stalled else 'TIMED OUT', acks, n)))
        print('throughput %.0f mails/s' % (n / total if done else acked / total))
        print('casedesk CPU time: user %.1f s, sys %.1f s (%.0f %% of the wall time)' % (
            cpu[0], cpu[1], 100 * (cpu[0] + cpu[1]) / total))
        print('peak RSS casedesk %.1f MiB (VmHWM)%s' % (
            hwm / 1024, ('; ru_maxrss of children %.1f MiB' % (ru / 1024)) if args.mode == 'once' else ''))
        counters = status.get('counters', status)
        print('check: %d/%d senders acked, %d with more than one ack, %d left in INBOX; status: %s' % (
            acked, n, dup, left, json.dumps({k: counters[k] for k in counters
                                             if k in ('cases_created', 'mails_seen', 'acks_sent',
                                                      'replies_sent', 'duplicates_skipped', 'quarantined')})))
        print('goal (<= 60 s): %s' % ('met' if done and total <= 60 else 'NOT met'))
        return 0 if done else 1
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    finally:
        if desk:
            desk.stop()
        servers.stop(keep=args.keep)
        if args.keep:
            print('kept %s' % servers.dir)


if __name__ == '__main__':
    sys.exit(main())
