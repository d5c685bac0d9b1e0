"""XOAUTH2 logins against a real Dovecot with an oauth2 passdb, an SMTP sink that requires AUTH
XOAUTH2, and a token-introspection stub.

This module starts ITS OWN Dovecot + SMTP sink (scripts/lib/mailservers with
CASEDESK_DOVECOT_OAUTH2_URL and CASEDESK_SINK_OAUTH2_URL) on free loopback ports, and an RFC 7662
introspection stub (http.server in a thread) that knows a few tokens; both servers ask it. Every
desk logs in to SMTP as desk@example.test with a bearer token (a good one unless a test says
otherwise): the sink refuses mail without AUTH. Everything is stopped by PID at the end.
"""
import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import unittest
import urllib.parse

from harness import BIN, SOURCE, free_port, make_mail, sink_messages, token

MAILSERVERS = os.path.join(SOURCE, 'scripts', 'lib', 'mailservers')
SMTP_USER = 'desk@example.test'
SMTP_TOKEN_FILE = 'oauth2_token_file = "smtp.token"'  # desk()'s default [smtp] secret

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
        url = 'http://127.0.0.1:%d/introspect' % cls.stub.server_address[1]
        env['CASEDESK_DOVECOT_OAUTH2_URL'] = url
        env['CASEDESK_SINK_OAUTH2_URL'] = url
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

    def desk(self, user, secret_line, smtp_secret=SMTP_TOKEN_FILE):
        """A desk folder and its config: IMAP as `user` with `secret_line`, SMTP as SMTP_USER with
        `smtp_secret`. smtp.token holds a good SMTP token (unless a test overwrites it)."""
        d = tempfile.mkdtemp(prefix='casedesk-oa-')
        self.addCleanup(shutil.rmtree, d, True)
        config = os.path.join(d, 'casedesk.toml')
        ca = os.path.join(self.ms, 'ca.pem')
        self.write_token(d, 'smtp.token', self.new_token(SMTP_USER))
        with open(config, 'w') as f:
            f.write(f'''[imap]
url = "imaps://127.0.0.1:{self.imaps_port}/INBOX"
username = "{user}"
{secret_line}
ca_file = "{ca}"
timeout = "10s"
[smtp]
url = "smtp://127.0.0.1:{self.smtp_port}"
username = "{SMTP_USER}"
{smtp_secret}
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

    @staticmethod
    def edit_config(config, old, new):
        with open(config) as f:
            text = f.read()
        assert old in text, old
        with open(config, 'w') as f:
            f.write(text.replace(old, new))

    @staticmethod
    def write_token(d, name, tok):
        with open(os.path.join(d, name), 'w') as f:
            f.write(tok + '\n')

    @staticmethod
    def token_command(d, bad, good):
        """A token command printing `bad` on its first call and `good` on every later one; returns
        its path and the file counting its calls."""
        counter = os.path.join(d, 'calls')
        script = os.path.join(d, 'get-token.sh')
        with open(script, 'w') as f:
            f.write(f'''#!/bin/sh
n=$(cat "{counter}" 2>/dev/null || echo 0)
n=$((n + 1))
echo $n > "{counter}"
if [ $n -eq 1 ]; then echo "{bad}"; else echo "{good}"; fi
''')
        os.chmod(script, 0o755)
        return script, counter

    def case_detail(self, config, ref):
        r = self.run_cd('queue', 'show', ref, '--json', '--config', config)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def sink_messages(self, recipient):
        """What this module's sink accepted for `recipient`, oldest first; each with .envelope."""
        return sink_messages(recipient, self.ms)

    def sink_log(self):
        with open(os.path.join(self.ms, 'sink.out')) as f:
            return f.read()

    def seed_case_mail(self, user, prefix):
        sender = '%s-%s@clinic.example' % (prefix, token())
        raw, _ = make_mail(sender, 'A4216 saline flush billable?', 'Home infusion.\n')
        self.seed(user, raw)
        return sender

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
        # First call: an expired token; every later call: a fresh one.
        script, counter = self.token_command(d, bad, good)
        self.edit_config(config, 'username = "%s"\n' % user,
                         'username = "%s"\noauth2_token_command = "%s"\n' % (user, script))
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

    # -- SMTP XOAUTH2 (the sink requires it and asks the same introspection stub) -------------

    def test_smtp_token_file_login_delivers_the_ack(self):
        user = 'intake5@example.test'
        d, config = self.desk(user, 'password = "secret"')
        tok = self.new_token(SMTP_USER)
        self.write_token(d, 'smtp.token', tok)
        sender = self.seed_case_mail(user, 'smtp-ok')
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 0, r.stderr)
        [case] = self.cases(config)
        self.assertEqual(case['ack_state'], 'sent')
        [ack] = self.sink_messages(sender)
        self.assertEqual(ack.envelope['auth_user'], SMTP_USER)  # delivered in an authenticated session
        self.assertEqual(ack.envelope['mail_from'], SMTP_USER)
        self.assertIn(case['ref'], ack['Subject'])
        self.assertIn(tok, IntrospectionStub.seen)  # the sink really asked the introspection endpoint
        self.assertNotIn(tok, r.stderr + r.stdout + self.sink_log())
        self.assertNotIn('oauth2_failures', self.counters(config))

    def test_smtp_refused_token_is_read_again_and_the_ack_goes_out(self):
        user = 'intake6@example.test'
        d, config = self.desk(user, 'password = "secret"')
        good = self.new_token(SMTP_USER)
        bad = 'ya29.expired-' + token()
        script, counter = self.token_command(d, bad, good)
        self.edit_config(config, SMTP_TOKEN_FILE, 'oauth2_token_command = "%s"' % script)
        sender = self.seed_case_mail(user, 'smtp-retry')
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(counter) as f:
            self.assertEqual(f.read().strip(), '2')  # read once, refused, read again, logged in
        self.assertEqual(IntrospectionStub.seen.count(bad), 1)
        self.assertEqual(IntrospectionStub.seen.count(good), 1)
        [case] = self.cases(config)
        self.assertEqual(case['ack_state'], 'sent')
        [ack] = self.sink_messages(sender)
        self.assertEqual(ack.envelope['auth_user'], SMTP_USER)
        self.assertNotIn(good, r.stderr + r.stdout)
        self.assertNotIn(bad, r.stderr + r.stdout)
        self.assertNotIn('oauth2_failures', self.counters(config))

    def test_smtp_token_that_keeps_failing_leaves_the_ack_queued_until_fixed(self):
        user = 'intake7@example.test'
        d, config = self.desk(user, 'password = "secret"')
        bad = 'ya29.revoked-' + token()
        self.write_token(d, 'smtp.token', bad)
        sender = self.seed_case_mail(user, 'smtp-bad')
        r = self.run_cd('serve', '--config', config, '--once')
        # README: 75 = the SMTP server could not be logged into. Intake itself went through.
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertEqual(IntrospectionStub.seen.count(bad), 2)  # read again and retried exactly once
        self.assertRegex(r.stderr, r'OAuth2 login to the SMTP server failed.*oauth2_token_file')
        self.assertIn('error', r.stderr.lower())
        [case] = self.cases(config)
        self.assertEqual(case['ack_state'], 'pending')
        [entry] = self.case_detail(config, case['ref'])['outbox']
        self.assertEqual((entry['kind'], entry['state'], entry['attempts']), ('ack', 'pending', 1))
        self.assertIsNotNone(entry['last_error'])
        self.assertEqual(self.sink_messages(sender), [])
        status = self.run_cd('status', '--json', '--config', config)
        self.assertEqual(status.returncode, 0, status.stderr)
        st = json.loads(status.stdout)
        self.assertEqual(st['counters'].get('oauth2_failures'), 1)
        self.assertNotIn('send_failures_permanent', st['counters'])
        self.assertEqual(st['outbox'].get('pending'), 1)
        self.assertNotIn('failed', st['outbox'])
        shown = self.run_cd('queue', 'show', case['ref'], '--json', '--config', config)
        for out in (r.stderr, r.stdout, shown.stdout, status.stdout, self.sink_log()):
            self.assertNotIn(bad, out)  # never the token: not in logs, last_error or the sink's log

        # The operator fixes the token; the next pass (made due now, not in 2 min) delivers the ack.
        good = self.new_token(SMTP_USER)
        self.write_token(d, 'smtp.token', good)
        with sqlite3.connect(os.path.join(d, 'casedesk.db')) as db:
            db.execute('UPDATE outbox SET next_attempt_at = 0')
        db.close()
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.cases(config)[0]['ack_state'], 'sent')
        [ack] = self.sink_messages(sender)
        self.assertEqual(ack.envelope['auth_user'], SMTP_USER)
        self.assertIn(case['ref'], ack['Subject'])
        self.assertEqual(self.counters(config).get('oauth2_failures'), 1)  # not counted again
        self.assertNotIn(good, r.stderr + r.stdout)


    def test_smtp_without_login_is_refused_and_the_ack_stays_queued(self):
        # The sink requires AUTH here: a desk without an SMTP login gets 530, a temporary failure.
        user = 'intake8@example.test'
        d, config = self.desk(user, 'password = "secret"', smtp_secret='')
        self.edit_config(config, 'username = "%s"\n' % SMTP_USER, '')
        sender = self.seed_case_mail(user, 'smtp-anon')
        r = self.run_cd('serve', '--config', config, '--once')
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn('530', r.stderr)
        [case] = self.cases(config)
        self.assertEqual(case['ack_state'], 'pending')
        self.assertEqual(self.sink_messages(sender), [])
        self.assertNotIn('oauth2_failures', self.counters(config))

if __name__ == '__main__':
    unittest.main()
