"""XOAUTH2 logins against a real Dovecot with an oauth2 passdb and a token-introspection stub.

This module starts ITS OWN Dovecot + SMTP sink (scripts/lib/mailservers with
CASEDESK_DOVECOT_OAUTH2_URL) on free loopback ports, and an RFC 7662 introspection stub
(http.server in a thread) that knows a few tokens. Everything is stopped by PID at the end.
"""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.parse

from harness import BIN, SOURCE, free_port, make_mail, token

MAILSERVERS = os.path.join(SOURCE, 'scripts', 'lib', 'mailservers')

# token -> user the introspection stub reports as its owner
GOOD_TOKENS = {}


class IntrospectionStub(http.server.BaseHTTPRequestHandler):
    seen = []  # tokens asked about, in order

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode('utf-8', 'replace'))
        tok = (form.get('token') or [''])[0]
        IntrospectionStub.seen.append(tok)
        user = GOOD_TOKENS.get(tok)
        if user:
            status, body = 200, {'active': True, 'username': user}
        else:
            status, body = 401, {'active': False}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class OAuth2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stub = http.server.ThreadingHTTPServer(('127.0.0.1', 0), IntrospectionStub)
        cls.stub_thread = threading.Thread(target=cls.stub.serve_forever, daemon=True)
        cls.stub_thread.start()
        # Short: Dovecot's unix sockets live in it. /tmp is searchable by the unprivileged auth process.
        cls.ms = tempfile.mkdtemp(prefix='cd-oa-', dir='/tmp')
        cls.imap_port, cls.imaps_port, cls.smtp_port = free_port(), free_port(), free_port()
        env = dict(os.environ)
        env['CASEDESK_DOVECOT_OAUTH2_URL'] = 'http://127.0.0.1:%d/introspect' % cls.stub.server_address[1]
        r = subprocess.run([MAILSERVERS, 'start', cls.ms, str(cls.imap_port), str(cls.imaps_port), str(cls.smtp_port)],
                           capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            cls.tearDownClass()
            raise RuntimeError('mailservers start failed: %s %s' % (r.stdout, r.stderr))

    @classmethod
    def tearDownClass(cls):
        subprocess.run([MAILSERVERS, 'stop', cls.ms], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        cls.stub.shutdown()
        cls.stub.server_close()
        shutil.rmtree(cls.ms, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------

    def desk(self, user, secret_line):
        d = tempfile.mkdtemp(prefix='casedesk-oa-')
        self.addCleanup(shutil.rmtree, d, True)
        config = os.path.join(d, 'casedesk.toml')
        ca = os.path.join(self.ms, 'ca.pem')
        with open(config, 'w') as f:
            f.write(f'''[imap]
url = "imaps://127.0.0.1:{self.imaps_port}/INBOX"
username = "{user}"
{secret_line}
ca_file = "{ca}"
timeout = "10s"
[smtp]
url = "smtp://127.0.0.1:{self.smtp_port}"
from = "Coding Desk <desk@example.test>"
timeout = "10s"
[store]
path = "casedesk.db"
''')
        return d, config

    def run_cd(self, *args):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def seed(self, user, raw):
        with tempfile.NamedTemporaryFile(suffix='.eml', delete=False) as f:
            f.write(raw)
        try:
            subprocess.run([MAILSERVERS, 'seed', self.ms, user, f.name], check=True, capture_output=True, timeout=30)
        finally:
            os.unlink(f.name)

    def cases(self, config):
        r = self.run_cd('queue', 'list', '--json', '--config', config)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def counters(self, config):
        r = self.run_cd('status', '--json', '--config', config)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)['counters']

    def new_token(self, user):
        tok = 'ya29.' + token() + token()
        GOOD_TOKENS[tok] = user
        return tok

    # -- tests --------------------------------------------------------------------------------

    def test_token_file_login_creates_a_case(self):
        user = 'intake1@example.test'
        d, config = self.desk(user, 'oauth2_token_file = "imap.token"')
        tok = self.new_token(user)
        with open(os.path.join(d, 'imap.token'), 'w') as f:
            f.write(tok + '\n')
        raw, _ = make_mail('oauth-%s@clinic.example' % token(), 'A4216 saline flush billable?', 'Home infusion.\n')
        self.seed(user, raw)
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 0, r.stderr)
        [case] = self.cases(config)
        self.assertEqual(case['codes'][0]['code'], 'A4216')
        self.assertIn(tok, IntrospectionStub.seen)  # Dovecot really asked the introspection endpoint
        self.assertNotIn(tok, r.stderr + r.stdout)
        self.assertNotIn('oauth2_failures', self.counters(config))

    def test_bad_token_exits_75_logs_loudly_and_counts(self):
        user = 'intake2@example.test'
        d, config = self.desk(user, 'oauth2_token_file = "imap.token"')
        bad = 'ya29.revoked-' + token()
        with open(os.path.join(d, 'imap.token'), 'w') as f:
            f.write(bad + '\n')
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn('OAuth2', r.stderr)
        self.assertIn('error', r.stderr.lower())
        self.assertNotIn(bad, r.stderr + r.stdout)  # never the token
        self.assertEqual(IntrospectionStub.seen.count(bad), 2)  # read again and retried exactly once
        self.assertEqual(self.counters(config).get('oauth2_failures'), 1)
        # A second failing run counts again.
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertEqual(self.counters(config).get('oauth2_failures'), 2)

    def test_refused_token_is_read_again_and_the_retry_succeeds(self):
        user = 'intake3@example.test'
        d, config = self.desk(user, '')
        good = self.new_token(user)
        bad = 'ya29.expired-' + token()
        counter = os.path.join(d, 'calls')
        script = os.path.join(d, 'get-token.sh')
        # First call: an expired token; every later call: a fresh one.
        with open(script, 'w') as f:
            f.write(f'''#!/bin/sh
n=$(cat "{counter}" 2>/dev/null || echo 0)
n=$((n + 1))
echo $n > "{counter}"
if [ $n -eq 1 ]; then echo "{bad}"; else echo "{good}"; fi
''')
        os.chmod(script, 0o755)
        with open(config) as f:
            text = f.read()
        with open(config, 'w') as f:
            f.write(text.replace('username = "%s"\n' % user,
                                 'username = "%s"\noauth2_token_command = "%s"\n' % (user, script)))
        raw, _ = make_mail('retry-%s@clinic.example' % token(), 'J1885 ketorolac units?', '30 mg IV.\n')
        self.seed(user, raw)
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.cases(config)), 1)
        with open(counter) as f:
            self.assertEqual(f.read().strip(), '2')  # read once, refused, read again, logged in
        self.assertIn(bad, IntrospectionStub.seen)
        self.assertNotIn(good, r.stderr + r.stdout)
        self.assertNotIn(bad, r.stderr + r.stdout)
        self.assertNotIn('oauth2_failures', self.counters(config))

    def test_password_login_still_works_on_the_same_server(self):
        user = 'intake4@example.test'
        d, config = self.desk(user, 'password = "secret"')
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == '__main__':
    unittest.main()
