#!/usr/bin/python3
"""SMTP sink for casedesk tests and the demo (aiosmtpd, loopback only).

Writes every accepted message to DIR/NNNN.eml (bytes as received) and DIR/NNNN.json (envelope).
Fault injection by recipient local part: "reject-..." gets 550 (permanent), "defer-..." gets 451
(temporary). Runs until SIGTERM/SIGINT; writes its PID to DIR/sink.pid once listening.

CASEDESK_SINK_OAUTH2_URL=http://127.0.0.1:PORT/introspect (optional): the sink then offers only
AUTH XOAUTH2 (on plain SMTP: it is loopback only) and requires it before MAIL. The bearer token is
checked against that RFC 7662 token-introspection URL (POST token=...; accepted when the answer is
200 with "active": true and "username" equal to the login name). A refused token gets a 334 with a
base64 JSON error, then 535 after the client's (empty) response, as Gmail does. The login name goes
into the envelope JSON as "auth_user". Tokens are never logged. Unset: no AUTH at all, as before.

usage: smtp_sink.py DIR PORT
"""
import asyncio
import base64
import binascii
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult

OAUTH2_URL_ENV = 'CASEDESK_SINK_OAUTH2_URL'


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.count = len([f for f in os.listdir(directory) if f.endswith('.eml')])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split('@', 1)[0].lower()
        if local.startswith('reject-'):
            return '550 5.1.1 mailbox unavailable (test sink)'
        if local.startswith('defer-'):
            return '451 4.3.0 try again later (test sink)'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        arrived_at = time.time()  # bench/latency_bench.py: when the message was accepted
        with self.lock:
            self.count += 1
            base = os.path.join(self.directory, '%04d' % self.count)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode('utf-8', 'surrogateescape')
        with open(base + '.eml.tmp', 'wb') as f:
            f.write(data)
        with open(base + '.json.tmp', 'w') as f:
            meta = {'mail_from': envelope.mail_from, 'rcpt_tos': envelope.rcpt_tos, 'arrived_at': arrived_at}
            if session.authenticated:
                meta['auth_user'] = session.auth_data
            json.dump(meta, f)
        # Readers list *.json and then open the .eml beside it: both appear whole, the .eml first.
        os.rename(base + '.eml.tmp', base + '.eml')
        os.rename(base + '.json.tmp', base + '.json')
        return '250 2.0.0 OK queued'


def log(text):
    print('smtp_sink: ' + text, file=sys.stderr, flush=True)


def parse_xoauth2(blob):
    """(user, token) from "user=U\x01auth=Bearer T\x01\x01", or None when malformed."""
    try:
        text = blob.decode('utf-8')
    except UnicodeDecodeError:
        return None
    if not text.endswith('\x01\x01'):
        return None
    fields = dict(part.split('=', 1) for part in text[:-2].split('\x01') if '=' in part)
    user, auth = fields.get('user', ''), fields.get('auth', '')
    if not user or not auth.startswith('Bearer ') or not auth[len('Bearer '):]:
        return None
    return user, auth[len('Bearer '):]


class OAuth2Sink(Sink):
    """The sink with AUTH XOAUTH2 (aiosmtpd calls handler methods named auth_<MECHANISM>)."""

    # What Gmail sends in its 334 after a refused XOAUTH2 token.
    ERROR = json.dumps({'status': '401', 'schemes': 'Bearer', 'scope': 'https://mail.google.com/'})

    def __init__(self, directory, introspection_url):
        super().__init__(directory)
        self.introspection_url = introspection_url

    def introspect(self, bearer, user):
        """True when the introspection endpoint calls the token active and owned by `user`."""
        data = urllib.parse.urlencode({'token': bearer}).encode()
        request = urllib.request.Request(self.introspection_url, data=data, method='POST',
                                         headers={'Accept': 'application/json'})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                if r.status != 200:
                    return False
                answer = json.loads(r.read().decode('utf-8'))
        except urllib.error.HTTPError:
            return False  # 401 & co.: refused
        except (OSError, ValueError) as e:
            log('introspection failed: %s' % type(e).__name__)
            return False
        return isinstance(answer, dict) and answer.get('active') is True and answer.get('username') == user

    async def auth_XOAUTH2(self, server, args):
        if len(args) == 1:  # no initial response: ask for it
            blob = await server.challenge_auth('')
            if blob is MISSING:  # "*" or bad base64: aiosmtpd has answered 501
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        parsed = parse_xoauth2(blob)
        if not parsed:
            await server.push('501 5.5.2 malformed XOAUTH2 response')
            return AuthResult(success=False, handled=True)
        user, bearer = parsed
        ok = await asyncio.get_running_loop().run_in_executor(None, self.introspect, bearer, user)
        if ok:
            log('AUTH XOAUTH2 %s accepted' % user)
            return AuthResult(success=True, auth_data=user)
        log('AUTH XOAUTH2 %s refused' % user)
        # RFC 7628 3.2.2 / Gmail: the error as a challenge; the client answers (empty line), then 535.
        # libcurl does not answer but ends the session (QUIT or close): the 535 then goes nowhere.
        if await server.challenge_auth(self.ERROR) is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message='535 5.7.8 Username and Password not accepted (test sink)')


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(directory, exist_ok=True)
    introspection_url = os.environ.get(OAUTH2_URL_ENV, '')
    if introspection_url:
        # Plain SMTP with AUTH is fine here (loopback only, test tokens): no warning per connection.
        warnings.filterwarnings('ignore', message='Requiring AUTH while not requiring TLS')
        noise = ('auth_require_tls == False', 'Session.login_data is deprecated')  # aiosmtpd's own, per session
        logging.getLogger('mail.log').addFilter(lambda r: not any(n in r.getMessage() for n in noise))
        controller = Controller(OAuth2Sink(directory, introspection_url), hostname='127.0.0.1', port=port,
                                auth_required=True, auth_require_tls=False, auth_exclude_mechanism=['LOGIN', 'PLAIN'])
    else:
        controller = Controller(Sink(directory), hostname='127.0.0.1', port=port)
    controller.start()
    with open(os.path.join(directory, 'sink.pid'), 'w') as f:
        f.write(str(os.getpid()))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == '__main__':
    main()
