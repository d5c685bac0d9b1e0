"""Shared helpers for casedesk's integration tests.

The ctest fixture `mailservers` (scripts/lib/mailservers) has started a real Dovecot and an SMTP
sink on 127.0.0.1; CASEDESK_MAILSERVERS names its folder. Each test uses its own IMAP user
(intake1..intake9@example.test, password "secret") and unique sender addresses, so tests may run in
parallel against the same servers.
"""
import email
import email.policy
import imaplib
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

MS_DIR = os.environ.get('CASEDESK_MAILSERVERS', '')
BIN = os.environ.get('CASEDESK_BIN', '')
SOURCE = os.environ.get('CASEDESK_SOURCE', os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
PASSWORD = 'secret'


def ports():
    out = {}
    with open(os.path.join(MS_DIR, 'ports.env')) as f:
        for line in f:
            k, _, v = line.strip().partition('=')
            out[k] = v
    return out


def token():
    return uuid.uuid4().hex[:10]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Desk:
    """One casedesk instance: a temp folder with its config and store, bound to one IMAP user."""

    def __init__(self, user, imap_url=None, smtp_url=None, ca_file='default', extra='', web=False, metrics=False):
        p = ports()
        self.user = user
        self.dir = tempfile.mkdtemp(prefix='casedesk-it-')
        self.config = os.path.join(self.dir, 'casedesk.toml')
        imap_url = imap_url or 'imaps://127.0.0.1:%s/INBOX' % p['IMAPS_PORT']
        smtp_url = smtp_url or 'smtp://127.0.0.1:%s' % p['SMTP_PORT']
        ca = p['CA_FILE'] if ca_file == 'default' else ca_file
        ca_line = 'ca_file = "%s"' % ca if ca else ''
        with open(self.config, 'w') as f:
            f.write(f'''[imap]
url = "{imap_url}"
username = "{user}"
password_env = "CASEDESK_IMAP_PASSWORD"
{ca_line}
poll_interval = "500ms"
timeout = "10s"
[smtp]
url = "{smtp_url}"
{ca_line}
from = "Coding Desk <desk@example.test>"
timeout = "10s"
[store]
path = "casedesk.db"
{extra}
''')
            # Listeners are off unless a test asks for them (each on a free loopback port), so
            # tests running side by side never fight over 8080/9464.
            self.web_port = self.metrics_port = None
            if web and '[web]' not in extra:
                self.web_port = free_port()
                f.write('[web]\nlisten = "127.0.0.1:%d"\n' % self.web_port)
            elif '[web]' not in extra:
                f.write('[web]\nenabled = false\n')
            if metrics and '[metrics]' not in extra:
                self.metrics_port = free_port()
                f.write('[metrics]\nlisten = "127.0.0.1:%d"\n' % self.metrics_port)
            elif '[metrics]' not in extra:
                f.write('[metrics]\nenabled = false\n')

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self):
        e = dict(os.environ)
        e['CASEDESK_IMAP_PASSWORD'] = PASSWORD
        return e

    def run(self, *args, timeout=60):
        return subprocess.run([BIN, *args], capture_output=True, text=True, env=self.env(), timeout=timeout)

    def serve_once(self):
        return self.run('serve', '--config', self.config, '--once')

    def cases(self):
        r = self.run('queue', 'list', '--json', '--config', self.config)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def case(self, ref):
        r = self.run('queue', 'show', ref, '--json', '--config', self.config)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)


def seed(user, raw_bytes):
    """Delivers a mail unseen, arriving now (doveadm save)."""
    with tempfile.NamedTemporaryFile(suffix='.eml', delete=False) as f:
        f.write(raw_bytes)
        path = f.name
    try:
        subprocess.run([os.path.join(SOURCE, 'scripts', 'lib', 'mailservers'), 'seed', MS_DIR, user, path],
                       check=True, capture_output=True, timeout=30)
    finally:
        os.unlink(path)


def make_mail(sender, subject, body, message_id=None, extra_headers=None, date='Thu, 26 Nov 2026 09:15:00 -0500',
              name='Dana Biller'):
    message_id = message_id or '<%s@clinic.example>' % token()
    headers = [
        ('From', '%s <%s>' % (name, sender) if name else sender),
        ('To', 'Coding Desk <desk@example.test>'),
        ('Subject', subject),
        ('Date', date),
        ('Message-ID', message_id),
        ('MIME-Version', '1.0'),
        ('Content-Type', 'text/plain; charset=utf-8'),
        ('Content-Transfer-Encoding', '8bit'),
    ]
    headers += list(extra_headers or [])
    text = ''.join('%s: %s\r\n' % kv for kv in headers) + '\r\n' + body.replace('\n', '\r\n')
    return text.encode('utf-8'), message_id


def imap_uids(user, folder):
    """UIDs in a folder, read with Python's own IMAP client over TLS (verified with the test CA)."""
    p = ports()
    ctx = ssl.create_default_context(cafile=p['CA_FILE'])
    with imaplib.IMAP4_SSL('127.0.0.1', int(p['IMAPS_PORT']), ssl_context=ctx) as m:
        m.login(user, PASSWORD)
        typ, _ = m.select('"%s"' % folder, readonly=True)
        assert typ == 'OK', folder
        typ, data = m.uid('SEARCH', 'ALL')
        return [int(x) for x in data[0].split()]


def sink_messages(recipient, ms_dir=None):
    """Messages the SMTP sink accepted for one recipient, oldest first, as email.message objects
    (the shared fixture's sink, or the one of the mail servers in ms_dir)."""
    out = []
    sink = os.path.join(ms_dir or MS_DIR, 'sink')
    for name in sorted(os.listdir(sink)):
        if not name.endswith('.json'):
            continue
        with open(os.path.join(sink, name)) as f:
            env = json.load(f)
        if recipient.lower() not in [r.lower() for r in env['rcpt_tos']]:
            continue
        with open(os.path.join(sink, name[:-5] + '.eml'), 'rb') as f:
            raw = f.read()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        msg.envelope = env
        msg.raw = raw  # the bytes as the sink received them
        out.append(msg)
    return out


def wait_until(predicate, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
