#!/usr/bin/python3
"""Latency bench: mail appended to INBOX -> acknowledgement accepted by the SMTP sink.

Starts its own Dovecot + SMTP sink (scripts/lib/mailservers) in a short temp folder on free loopback
ports, then runs `casedesk serve` twice against them:
  (a) IDLE     ([imap] idle = true,  poll_interval = "30s"), --mails mails (default 100)
  (b) polling  ([imap] idle = false, poll_interval = "30s"), --poll-mails mails (default 10)
Each mail is appended on its own with Python's imaplib APPEND (no date: unseen, arriving now) after a
short random gap; t0 is taken right before APPEND, t1 is the sink's `arrived_at` (time.time() when
the sink received DATA, recorded in NNNN.json by scripts/lib/smtp_sink.py). Prints p50/p95/max per
mode and the ratio polling/IDLE. Everything it starts is stopped by PID, also on Ctrl-C or errors.

usage: /usr/bin/python3 bench/latency_bench.py [--bin build-lat/daemon/casedesk] [--mails 100]
       [--poll-mails 10] [--gap 0.3] [--only idle|poll] [--keep]
"""
import argparse
import imaplib
import json
import math
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
MAILSERVERS = os.path.join(ROOT, 'scripts', 'lib', 'mailservers')
PASSWORD = 'secret'


def default_bin():
    for d in ('build-lat', 'build'):
        p = os.path.join(ROOT, d, 'daemon', 'casedesk')
        if os.path.exists(p):
            return p
    return os.path.join(ROOT, 'build', 'daemon', 'casedesk')


def free_ports(n):
    """n distinct free loopback ports from the kernel's ephemeral range (tests use 10000-28000)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(('127.0.0.1', 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class MailServers:
    """Dovecot (imap + imaps) and the SMTP sink in a short temp folder; stop() by PID."""

    def __init__(self, prefix='cdb-'):
        self.dir = tempfile.mkdtemp(prefix=prefix, dir='/tmp')
        os.chmod(self.dir, 0o755)
        self.imap_port, self.imaps_port, self.smtp_port = free_ports(3)
        self.started = False

    def start(self):
        self.started = True
        r = subprocess.run([MAILSERVERS, 'start', self.dir, str(self.imap_port), str(self.imaps_port),
                            str(self.smtp_port)], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError('mailservers start failed:\n' + r.stdout + r.stderr)
        # the sink writes its own PID once listening (the launcher PID is the same process)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.sink_dir, 'sink.pid')) and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def sink_dir(self):
        return os.path.join(self.dir, 'sink')

    @property
    def ca_file(self):
        return os.path.join(self.dir, 'ca.pem')

    def maildir(self, user):
        return os.path.join(self.dir, 'mail', user, 'Maildir')

    def imap(self, user):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        m = imaplib.IMAP4_SSL('127.0.0.1', self.imaps_port, ssl_context=ctx)
        m.login(user, PASSWORD)
        return m

    def stop(self, keep=False):
        if self.started:
            subprocess.run([MAILSERVERS, 'stop', self.dir], capture_output=True, timeout=60)
            self.started = False
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class Desk:
    """A casedesk config + store in its own folder, and the `serve` process started from it."""

    def __init__(self, binary, servers, user, idle, poll_interval, name):
        self.binary = binary
        self.dir = os.path.join(servers.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, 'casedesk.toml')
        self.log_path = os.path.join(self.dir, 'casedesk.log')
        self.proc = None
        with open(self.config, 'w') as f:
            f.write(f'''[imap]
url = "imaps://127.0.0.1:{servers.imaps_port}/INBOX"
username = "{user}"
password_env = "CASEDESK_IMAP_PASSWORD"
ca_file = "{servers.ca_file}"
poll_interval = "{poll_interval}"
timeout = "30s"
idle = {'true' if idle else 'false'}
[smtp]
url = "smtp://127.0.0.1:{servers.smtp_port}"
from = "Coding Desk <desk@example.test>"
timeout = "30s"
[store]
path = "casedesk.db"
''')

    def env(self, extra=None):
        e = dict(os.environ)
        e['CASEDESK_IMAP_PASSWORD'] = PASSWORD
        e.update(extra or {})
        return e

    def start(self, *args, env=None):
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([self.binary, 'serve', '--config', self.config, *args],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env(env))
        return self.proc

    def log_text(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def wait_log(self, needle, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            if self.proc and self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None

    def run(self, *args, timeout=120):
        return subprocess.run([self.binary, *args], capture_output=True, text=True, env=self.env(),
                              timeout=timeout)


class SinkWatch:
    """Follows the sink's NNNN.eml/.json files in order; maps recipient -> arrived_at."""

    def __init__(self, sink_dir):
        self.dir = sink_dir
        self.next = 1 + len([f for f in os.listdir(sink_dir) if f.endswith('.eml')])
        self.arrived = {}

    def scan(self):
        while True:
            base = os.path.join(self.dir, '%04d' % self.next)
            if not os.path.exists(base + '.eml'):  # the sink renames .eml last
                return
            seen_at = time.time()
            with open(base + '.json') as f:
                env = json.load(f)
            t = env.get('arrived_at', seen_at)
            for r in env['rcpt_tos']:
                self.arrived.setdefault(r.lower(), t)
            self.next += 1

    def wait_for(self, rcpt, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.scan()
            if rcpt in self.arrived:
                return self.arrived[rcpt]
            time.sleep(0.01)
        return None


def make_mail(sender, i, run):
    body = ('Hello desk,\r\n\r\nCan we bill 64635-50 with 64636-50, dx M47.816? Second question for\r\n'
            'case %d: J0585 x 100 units with 64615.\r\n\r\nThanks,\r\nDana\r\n' % i)
    headers = [
        ('From', 'Dana Biller <%s>' % sender),
        ('To', 'Coding Desk <desk@example.test>'),
        ('Subject', 'Latency bench %s #%d' % (run, i)),
        ('Date', time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())),
        ('Message-ID', '<%s@clinic.example>' % uuid.uuid4().hex),
        ('MIME-Version', '1.0'),
        ('Content-Type', 'text/plain; charset=utf-8'),
        ('Content-Transfer-Encoding', '8bit'),
    ]
    return (''.join('%s: %s\r\n' % kv for kv in headers) + '\r\n' + body).encode()


def percentile(sorted_values, q):
    """Nearest-rank percentile."""
    if not sorted_values:
        return float('nan')
    k = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[k]


def run_mode(args, servers, mode, n, user):
    idle = mode == 'idle'
    desk = Desk(args.bin, servers, user, idle=idle, poll_interval='30s', name=mode)
    run = uuid.uuid4().hex[:6]
    watch = SinkWatch(servers.sink_dir)
    imap = servers.imap(user)
    latencies, lost = [], 0
    try:
        desk.start()
        ready = 'IDLE active' if idle else 'casedesk serving'
        if not desk.wait_log(ready, timeout=30):
            raise RuntimeError('%s: casedesk did not get ready:\n%s' % (mode, desk.log_text()[-3000:]))
        time.sleep(1.5)  # let the start-up pass (empty mailbox) finish
        timeout = 10 if idle else 45
        for i in range(n):
            # polling: the previous ack left right after a poll, so a gap uniform over one poll
            # interval puts each mail at a uniformly random phase of the poll cycle
            time.sleep(random.uniform(0.05, args.gap) if idle else random.uniform(0.0, 30.0))
            sender = 'lat-%s-%d@clinic.example' % (run, i)
            raw = make_mail(sender, i, run)
            t0 = time.time()
            typ, data = imap.append('INBOX', None, None, raw)
            if typ != 'OK':
                raise RuntimeError('APPEND failed: %r' % (data,))
            t1 = watch.wait_for(sender, timeout)
            if t1 is None:
                lost += 1
                print('  %s #%d: no ack within %d s' % (mode, i, timeout), flush=True)
                continue
            latencies.append(t1 - t0)
            if args.verbose or not idle:
                print('  %s #%d: %.3f s' % (mode, i, t1 - t0), flush=True)
            elif (i + 1) % 20 == 0:
                print('  %s: %d/%d done' % (mode, i + 1, n), flush=True)
    finally:
        try:
            imap.logout()
        except Exception:
            pass
        desk.stop()
    latencies.sort()
    return {
        'mode': mode, 'n': n, 'acked': len(latencies), 'lost': lost,
        'p50': percentile(latencies, 0.50), 'p95': percentile(latencies, 0.95),
        'max': latencies[-1] if latencies else float('nan'),
        'min': latencies[0] if latencies else float('nan'),
        'mean': sum(latencies) / len(latencies) if latencies else float('nan'),
    }


def fmt(r):
    return ('%-8s n=%-4d acked=%-4d p50 %.3f s  p95 %.3f s  max %.3f s  (min %.3f s, mean %.3f s)'
            % (r['mode'], r['n'], r['acked'], r['p50'], r['p95'], r['max'], r['min'], r['mean']))


def on_sigterm(*_):
    raise KeyboardInterrupt()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--bin', default=default_bin())
    ap.add_argument('--mails', type=int, default=100, help='mails with IDLE (default 100)')
    ap.add_argument('--poll-mails', type=int, default=10, help='mails with 30 s polling (default 10)')
    ap.add_argument('--gap', type=float, default=0.3, help='max random gap between IDLE mails, s')
    ap.add_argument('--only', choices=['idle', 'poll'])
    ap.add_argument('--keep', action='store_true', help='keep the temp folder (logs, stores, sink)')
    ap.add_argument('--verbose', action='store_true')
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit('casedesk binary not found: %s (build it or pass --bin)' % args.bin)

    # SIGTERM behaves like Ctrl-C: unwind through the finally blocks below.
    signal.signal(signal.SIGTERM, on_sigterm)
    servers = MailServers(prefix='cdlat-')
    results = []
    try:
        servers.start()
        print('mail servers in %s (imaps %d, smtp %d); casedesk %s' % (servers.dir, servers.imaps_port,
                                                                   servers.smtp_port, args.bin), flush=True)
        if args.only != 'poll':
            results.append(run_mode(args, servers, 'idle', args.mails, 'intake1@example.test'))
            print(fmt(results[-1]), flush=True)
        if args.only != 'idle':
            results.append(run_mode(args, servers, 'poll', args.poll_mails, 'intake2@example.test'))
            print(fmt(results[-1]), flush=True)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    finally:
        servers.stop(keep=args.keep)
        if args.keep:
            print('kept %s' % servers.dir)

    print('\nmail appended (imaplib APPEND) -> ack accepted by the SMTP sink')
    for r in results:
        print(fmt(r))
    by = {r['mode']: r for r in results}
    if 'idle' in by and 'poll' in by:
        print('ratio poll/idle: p50 %.1fx  p95 %.1fx' % (by['poll']['p50'] / by['idle']['p50'],
                                                         by['poll']['p95'] / by['idle']['p95']))
    if 'idle' in by:
        ok = by['idle']['p50'] <= 0.8 and by['idle']['p95'] <= 2.0 and by['idle']['lost'] == 0
        print('goal (IDLE p50 <= 0.8 s, p95 <= 2 s): %s' % ('met' if ok else 'NOT met'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
