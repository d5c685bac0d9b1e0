"""The web UI of `casedesk serve` under hostile clients (issue 12 items 6-9), on loopback.

- 600 slow clients from 127.0.0.1, each sending a header line every 0.5 s and never finishing, do
  not starve a client from 127.0.0.2 (answered in < 2 s), and are closed by the head's deadline
  ([web] header_timeout, shortened here to 2 s; default 10 s). Figures are printed.
- Failed sign-ins under other names from one address do not lock out a consultant; X-Forwarded-For
  counts only from [web] trusted_proxies.
- HEAD is answered on GET routes; HTTP/1.1 without exactly one Host is 400.
- check-config and serve refuse a non-loopback listener without tls_proxy / allow_insecure, and
  /metrics off loopback without token_file, with file:line and exit 78; the token is then required.
"""
import os
import re
import resource
import select
import signal
import socket
import subprocess
import time
import unittest

from harness import BIN, Desk, free_port, wait_until

EX_CONFIG = 78


def port_open(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


def http(port, raw, src='127.0.0.1', timeout=5.0):
    """Sends raw bytes from `src`, reads until the server closes (or the head of a HEAD answer)."""
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(('127.0.0.1', port))
    s.sendall(raw)
    data = b''
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if raw.startswith(b'HEAD') and b'\r\n\r\n' in data:
                # Wait briefly: a body after the head would be a bug.
                s.settimeout(0.3)
    except socket.timeout:
        pass
    s.close()
    return data


def status(resp):
    try:
        return int(resp.split(b' ', 2)[1])
    except (IndexError, ValueError):
        return 0


class ServedDesk:
    """A Desk with `casedesk serve` running and its web UI on a free port."""

    def __init__(self, test, user, web_extra='', extra=''):
        self.port = free_port()
        self.desk = Desk(user, extra=extra + '\n[web]\nlisten = "127.0.0.1:%d"\n%s\n' % (self.port, web_extra))
        test.addCleanup(self.desk.cleanup)
        self.password = 'pw-alice-1'
        r = subprocess.run([BIN, 'user', 'add', 'alice', '--email', 'alice@desk.example', '--password-stdin',
                            '--config', self.desk.config], input=self.password + '\n', capture_output=True,
                           text=True, env=self.desk.env(), timeout=60)
        test.assertEqual(r.returncode, 0, r.stderr)
        self.log_path = os.path.join(self.desk.dir, 'serve.log')
        log = open(self.log_path, 'w')
        test.addCleanup(log.close)
        self.proc = subprocess.Popen([BIN, 'serve', '--config', self.desk.config], env=self.desk.env(),
                                     stdout=subprocess.DEVNULL, stderr=log)
        test.addCleanup(self.stop)
        test.assertTrue(wait_until(lambda: port_open(self.port) or self.proc.poll() is not None, timeout=20))
        test.assertIsNone(self.proc.poll(), self.log())
        self.host = b'Host: 127.0.0.1:%d\r\n' % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def login(self, user, password, src='127.0.0.1', extra=b''):
        body = ('user=%s&password=%s&next=%%2Fqueue' % (user, password)).encode()
        return http(self.port, b'POST /login HTTP/1.1\r\n' + self.host + extra +
                    b'Content-Type: application/x-www-form-urlencoded\r\n'
                    b'Content-Length: %d\r\nConnection: close\r\n\r\n' % len(body) + body, src=src)


class AdversarialWebTest(unittest.TestCase):
    def test_slow_clients_do_not_starve_another_address_and_are_closed_by_the_deadline(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 2048:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
        d = ServedDesk(self, 'intake37@example.test', 'header_timeout = "2s"\n')
        slow, opened = [], []
        for _ in range(600):
            s = socket.socket()
            s.settimeout(0.5)
            s.connect(('127.0.0.1', d.port))
            try:
                s.sendall(b'GET /login HTTP/1.1\r\n' + d.host)
            except OSError:
                pass
            slow.append(s)
            opened.append(time.monotonic())
        closed_at = {}
        served = None
        probe_at = time.monotonic() + 0.5
        next_dribble = time.monotonic()
        end = time.monotonic() + 5.0  # deadline 2 s + margin
        while time.monotonic() < end and len(closed_at) < len(slow):
            now = time.monotonic()
            if now >= next_dribble:
                for i, s in enumerate(slow):
                    if i not in closed_at:
                        try:
                            s.send(b'X-a: b\r\n')
                        except OSError:
                            pass
                next_dribble += 0.5
            if served is None and now >= probe_at:
                t0 = time.monotonic()
                try:
                    r = http(d.port, b'GET /login HTTP/1.1\r\n' + d.host + b'Connection: close\r\n\r\n',
                             src='127.0.0.2', timeout=2.0)
                except OSError:
                    r = b''
                served = (status(r), time.monotonic() - t0)
            open_socks = [s for i, s in enumerate(slow) if i not in closed_at]
            readable, _, _ = select.select(open_socks, [], [], 0.05) if open_socks else ([], [], [])
            for s in readable:
                i = slow.index(s)
                try:
                    gone = s.recv(4096, socket.MSG_DONTWAIT) == b''
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    closed_at[i] = time.monotonic()
        for s in slow:
            s.close()
        lived = sorted(closed_at[i] - opened[i] for i in closed_at)
        at_once = sum(1 for x in lived if x < 0.5)
        print('\n[ figures ] casedesk serve, 600 slow clients from 127.0.0.1: 127.0.0.2 answered %s in %.0f ms; '
              '%d/600 slow closed (%d at once), longest lived %.2f s (header_timeout 2 s)'
              % (served and served[0], (served[1] * 1000) if served else -1, len(lived), at_once,
                 lived[-1] if lived else -1))
        self.assertIsNotNone(served)
        self.assertEqual(served[0], 200, d.log())
        self.assertLess(served[1], 2.0)
        self.assertEqual(len(closed_at), 600)
        self.assertLess(lived[-1], 2.0 + 1.5)
        self.assertIsNone(d.proc.poll())

    def test_sign_in_failures_and_http_conformance(self):
        d = ServedDesk(self, 'intake38@example.test', 'trusted_proxies = ["127.0.0.3"]\n')
        # HEAD like GET without the body; Host required once.
        h = http(d.port, b'HEAD /login HTTP/1.1\r\n' + d.host + b'Connection: close\r\n\r\n')
        self.assertEqual(status(h), 200, h[:200])
        self.assertEqual(h.split(b'\r\n\r\n', 1)[1], b'')
        self.assertRegex(h, rb'Content-Length: [1-9]')
        self.assertEqual(status(http(d.port, b'GET /login HTTP/1.1\r\nConnection: close\r\n\r\n')), 400)
        self.assertEqual(status(http(d.port, b'GET /login HTTP/1.1\r\nHost: a\r\nHost: b\r\n'
                                              b'Connection: close\r\n\r\n')), 400)
        # Failed sign-ins under other names do not lock alice out.
        for i in range(10):
            self.assertEqual(status(d.login('mallory%d' % (i % 2), 'wrong')), 401)
        self.assertEqual(status(d.login('mallory0', 'wrong')), 429)
        ok = d.login('alice', d.password)
        self.assertIn(status(ok), (302, 303), ok[:300])
        self.assertIn(b'Set-Cookie: casedesk_session=', ok)
        self.assertNotIn(b'Secure', ok)
        # X-Forwarded-For from an untrusted address is ignored: five failures for alice from
        # 127.0.0.2, whatever it claims, lock alice for 127.0.0.2 ...
        for i in range(5):
            self.assertEqual(status(d.login('alice', 'wrong', src='127.0.0.2',
                                            extra=b'X-Forwarded-For: 198.51.100.%d\r\n' % i)), 401)
        self.assertEqual(status(d.login('alice', d.password, src='127.0.0.2')), 429)
        # ... but not for others. From the trusted proxy, each forwarded client counts apart.
        self.assertIn(status(d.login('alice', d.password, src='127.0.0.4')), (302, 303))
        for i in range(5):
            self.assertEqual(status(d.login('alice', 'wrong', src='127.0.0.3',
                                            extra=b'X-Forwarded-For: 203.0.113.9\r\n')), 401)
        self.assertEqual(status(d.login('alice', d.password, src='127.0.0.3',
                                        extra=b'X-Forwarded-For: 203.0.113.9\r\n')), 429)
        self.assertIn(status(d.login('alice', d.password, src='127.0.0.3',
                                     extra=b'X-Forwarded-For: 203.0.113.10\r\n')), (302, 303))

    def test_public_listeners_need_tls_proxy_or_allow_insecure_and_a_metrics_token(self):
        desk = Desk('intake38@example.test', extra='[web]\nenabled = true\nlisten = "0.0.0.0:%d"\n' % free_port())
        self.addCleanup(desk.cleanup)
        with open(desk.config) as f:
            line = next(n for n, text in enumerate(f, 1) if text.startswith('listen = "0.0.0.0'))
        r = desk.run('check-config', desk.config)
        self.assertEqual(r.returncode, EX_CONFIG, r.stdout + r.stderr)
        self.assertIn('%s:%d: web.listen' % (desk.config, line), r.stderr)
        r = desk.run('serve', '--config', desk.config, timeout=30)
        self.assertEqual(r.returncode, EX_CONFIG, r.stderr)
        self.assertIn('%s:%d: web.listen' % (desk.config, line), r.stderr)
        with open(desk.config) as f:
            text = f.read()
        with open(desk.config, 'w') as f:
            f.write(re.sub(r'(?m)^(listen = "0\.0\.0\.0:\d+")$', r'\1\ntls_proxy = true', text))
        r = desk.run('check-config', desk.config)
        self.assertEqual(r.returncode, 0, r.stderr)

        mport = free_port()
        token = 'tok-%d' % mport
        token_path = os.path.join(desk.dir, 'metrics.token')
        with open(token_path, 'w') as f:
            f.write(token + '\n')
        m = Desk('intake38@example.test', extra='[metrics]\nlisten = "0.0.0.0:%d"\n' % mport)
        self.addCleanup(m.cleanup)
        r = m.run('check-config', m.config)
        self.assertEqual(r.returncode, EX_CONFIG, r.stderr)
        self.assertRegex(r.stderr, re.escape(m.config) + r':\d+: metrics.listen')
        # On loopback, with a token: /metrics needs it, /healthz does not.
        mport = free_port()
        m2 = Desk('intake38@example.test',
                  extra='[metrics]\nlisten = "127.0.0.1:%d"\ntoken_file = "%s"\n' % (mport, token_path))
        self.addCleanup(m2.cleanup)
        self.assertEqual(m2.run('check-config', m2.config).returncode, 0)
        proc = subprocess.Popen([BIN, 'serve', '--config', m2.config], env=m2.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.assertTrue(wait_until(lambda: port_open(mport), timeout=20))
            host = b'Host: 127.0.0.1\r\n'
            self.assertEqual(status(http(mport, b'GET /metrics HTTP/1.1\r\n' + host + b'Connection: close\r\n\r\n')),
                             401)
            with_token = http(mport, b'GET /metrics HTTP/1.1\r\n' + host + b'Authorization: Bearer ' + token.encode() +
                              b'\r\nConnection: close\r\n\r\n')
            self.assertEqual(status(with_token), 200, with_token[:200])
            self.assertIn(b'casedesk_', with_token)
            self.assertIn(status(http(mport, b'GET /healthz HTTP/1.1\r\n' + host + b'Connection: close\r\n\r\n')),
                          (200, 503))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == '__main__':
    unittest.main()
