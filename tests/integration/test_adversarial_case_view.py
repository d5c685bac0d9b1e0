"""Issue 12 item 10: the case view reads what intake stored, and downloads stream from it.

A mail with a large PDF (several stored chunks) and a small CSV goes through the real Dovecot into
`casedesk serve`; over HTTP a consultant opens the case, downloads both attachments and the
original message: each download is byte for byte what was sent (SHA-256). `queue show --json`
lists the stored attachments with their sizes.
"""
import email.message
import email.policy
import hashlib
import http.client
import os
import re
import signal
import subprocess
import unittest

from harness import BIN, Desk, seed, token, wait_until

USER = 'intake39@example.test'


def sha(b):
    return hashlib.sha256(b).hexdigest()


class CaseViewDownloadTest(unittest.TestCase):
    def setUp(self):
        self.desk = Desk(USER, web=True)
        self.addCleanup(self.desk.cleanup)
        self.password = 'view-%s' % token()
        r = subprocess.run([BIN, 'user', 'add', 'alice', '--email', 'alice@desk.example', '--password-stdin',
                            '--config', self.desk.config],
                           input=self.password + '\n', capture_output=True, text=True, env=self.desk.env(),
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def start_daemon(self):
        self.log_path = os.path.join(self.desk.dir, 'serve.log')
        log = open(self.log_path, 'w')
        self.addCleanup(log.close)
        proc = subprocess.Popen([BIN, 'serve', '--config', self.desk.config], env=self.desk.env(),
                                stdout=subprocess.DEVNULL, stderr=log)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)
        return proc

    def daemon_log(self):
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def request(self, method, path, body=None, cookie=None):
        c = http.client.HTTPConnection('127.0.0.1', self.desk.web_port, timeout=30)
        headers = {'Origin': 'http://127.0.0.1:%d' % self.desk.web_port}
        if body is not None:
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        if cookie:
            headers['Cookie'] = cookie
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def test_attachments_and_the_original_download_byte_for_byte(self):
        pdf = os.urandom(3 * 256 * 1024 + 4321)  # several chunks of the store, not a multiple
        csv = b'date,code\r\n2026-11-02,64635\r\n'
        sender = 'view-%s@clinic.example' % token()
        msg = email.message.EmailMessage(policy=email.policy.SMTP)
        msg['From'] = 'Dana Biller <%s>' % sender
        msg['To'] = 'Coding Desk <desk@example.test>'
        msg['Subject'] = 'Op note for 64635'
        msg['Date'] = 'Thu, 26 Nov 2026 09:15:00 -0500'
        msg['Message-ID'] = '<%s@clinic.example>' % token()
        msg.set_content('Established patient, op note attached. 64635\n')
        msg.add_attachment(pdf, maintype='application', subtype='pdf', filename='op-note.pdf')
        msg.add_attachment(csv, maintype='text', subtype='csv', filename='claims.csv')
        raw = msg.as_bytes()
        seed(self.desk.user, raw)

        proc = self.start_daemon()
        self.assertTrue(wait_until(lambda: proc.poll() is not None or len(self.desk.cases()) == 1, timeout=30),
                        self.daemon_log())
        self.assertIsNone(proc.poll(), self.daemon_log())
        ref = self.desk.cases()[0]['ref']

        r, _ = self.request('POST', '/login', 'user=alice&password=%s&next=%%2Fqueue' % self.password)
        self.assertEqual(r.status, 303)
        cookie = r.getheader('Set-Cookie').split(';')[0]
        r, page = self.request('GET', '/case/' + ref, cookie=cookie)
        self.assertEqual(r.status, 200)
        page = page.decode('utf-8')
        self.assertIn('Established patient, op note attached.', page)
        links = re.findall(r'href="(/case/[^"]+/message/\d+/attachment/\d+)"', page)
        self.assertEqual(len(links), 2, page)
        originals = re.findall(r'href="(/case/[^"]+/message/\d+/original)"', page)
        self.assertEqual(len(originals), 1, page)

        r, got = self.request('GET', links[0], cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader('Content-Type'), 'application/octet-stream')
        self.assertIn('op-note.pdf', r.getheader('Content-Disposition'))
        self.assertEqual(int(r.getheader('Content-Length')), len(pdf))
        self.assertEqual(sha(got), sha(pdf))
        r, got = self.request('GET', links[1], cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertEqual(sha(got), sha(csv))
        r, got = self.request('GET', originals[0], cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertEqual(sha(got.replace(b'\r\n', b'\n')), sha(raw.replace(b'\r\n', b'\n')))

        detail = self.desk.case(ref)
        m = detail['messages'][0]
        self.assertEqual(m['content'], 'stored')
        self.assertEqual([a['filename'] for a in m['attachments']], ['op-note.pdf', 'claims.csv'])
        self.assertEqual(m['attachments'][0]['size'], len(pdf))
        self.assertEqual(m['attachments'][0]['data_size'], len(pdf))
        # Signed out, nothing is served.
        r, _ = self.request('GET', links[0])
        self.assertEqual(r.status, 303)


if __name__ == '__main__':
    unittest.main()
