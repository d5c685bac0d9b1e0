"""The web UI in a real browser: Debian's headless Chromium driven by playwright-core
(tests/web/web_flow.js) against `casedesk serve` with the real Dovecot and SMTP sink.

Signs in, sees the queue, opens a case, claims and answers it -> the answer reaches the sink in the
submitter's thread. Unauthenticated requests and POSTs without the CSRF token are refused; a mail
body with <script> shows as text. Screenshots go to $CASEDESK_SCREENSHOTS_DIR (docs/web-queue.png
and docs/web-case.png come from a run with it set to docs/), else to the test's temp folder.

Run directly (python3 test_web.py) it exits 77 when chromium or node is missing, so ctest skips.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import unittest

from harness import BIN, SOURCE, Desk, make_mail, seed, sink_messages, token, wait_until

WEB_DIR = os.path.join(SOURCE, 'tests', 'web')
SETUP_SKIPPED = 77


def setUpModule():
    r = subprocess.run([os.path.join(WEB_DIR, 'setup')], capture_output=True, text=True, timeout=600)
    if r.returncode == SETUP_SKIPPED:
        raise unittest.SkipTest('browser test needs chromium and node: ' + r.stderr.strip())
    if r.returncode != 0:
        raise RuntimeError('tests/web/setup failed:\n' + r.stdout + r.stderr)


def port_open(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


class WebUiBrowserTest(unittest.TestCase):
    def setUp(self):
        self.desk = Desk('intake25@example.test', web=True)
        self.addCleanup(self.desk.cleanup)
        # Official code-set fixtures, so the codes carry a status (billable, add-on, ...).
        r = self.desk.run('codes', 'import', '--config', self.desk.config,
                          os.path.join(SOURCE, 'tests', 'fixtures', 'codesets'))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.password = 'web-%s' % token()
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
        self.assertTrue(wait_until(lambda: port_open(self.desk.web_port) or proc.poll() is not None, timeout=20))
        self.assertIsNone(proc.poll(), self.daemon_log())
        return proc

    def daemon_log(self):
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def test_sign_in_claim_answer_in_a_real_browser(self):
        sender = 'web-%s@clinic.example' % token()
        raw, question_id = make_mail(
            sender, 'Bilateral facet injections L4-L5',
            'Hello desk,\n\nthe physician did bilateral lumbar facet joint injections at L4-L5 and L5-S1 '
            'under fluoroscopy.\nCan we bill 64635-50 with 64636-50, dx M47.816?\n\nThanks,\nDana\n')
        seed(self.desk.user, raw)
        xss_sender = 'xss-%s@clinic.example' % token()
        raw, _ = make_mail(xss_sender, '<b>Modifier</b> question',
                           'Is this a problem?\n<script>alert("casedesk-xss")</script>\nBilling 99213-25.\n')
        seed(self.desk.user, raw)
        others = [('Knee arthroscopy 29881 with 29877?', 'Medial and lateral meniscectomy, same knee.\n'),
                  ('E/M with same-day procedure', 'Office visit 99214-25 plus 20610 joint injection.\n'),
                  ('J-code units for J1885', 'Ketorolac 60 mg IV, how many units of J1885?\n')]
        for subject, body in others:
            raw, _ = make_mail('other-%s@clinic.example' % token(), subject, body)
            seed(self.desk.user, raw)

        self.start_daemon()
        self.assertTrue(wait_until(lambda: len(self.desk.cases()) == 5, timeout=30), self.daemon_log())
        by_sender = {c['submitter']['addr']: c['ref'] for c in self.desk.cases()}
        answer_ref, xss_ref = by_sender[sender], by_sender[xss_sender]

        screenshots = os.environ.get('CASEDESK_SCREENSHOTS_DIR') or self.desk.dir
        answer_text = 'Yes: 64636 is an add-on code of 64635; bill both with modifier 50. (%s)' % token()
        flow_cfg = os.path.join(self.desk.dir, 'flow.json')
        with open(flow_cfg, 'w') as f:
            json.dump({'base': 'http://127.0.0.1:%d' % self.desk.web_port, 'user': 'alice',
                       'password': self.password, 'answer_ref': answer_ref, 'xss_ref': xss_ref,
                       'answer_text': answer_text, 'screenshots': screenshots}, f)
        r = subprocess.run(['node', os.path.join(WEB_DIR, 'web_flow.js'), flow_cfg], capture_output=True, text=True,
                           timeout=180, cwd=WEB_DIR)
        self.assertEqual(r.returncode, 0, r.stderr + '\n' + self.daemon_log())
        seen = json.loads(r.stdout)

        # Unauthenticated: redirected to the sign-in form; an action is refused.
        self.assertEqual(seen['anon_queue_status'], 303)
        self.assertTrue(seen['anon_queue_location'].startswith('/login'), seen)
        self.assertEqual(seen['anon_claim_status'], 401)
        self.assertIn('/login', seen['login_url'])
        self.assertTrue(seen['after_login_url'].endswith('/queue'), seen)
        self.assertTrue(seen['cookie_http_only'])
        self.assertEqual(seen['cookie_same_site'], 'Strict')
        self.assertTrue(seen['queue_has_answer_case'])
        self.assertTrue(seen['queue_has_xss_case'])
        # <script> in a mail is text; nothing ran.
        self.assertTrue(seen['xss_text_visible'], seen)
        self.assertEqual(seen['xss_script_elements'], 0)
        self.assertTrue(seen['xss_title_text'])
        self.assertEqual(seen['dialogs'], [])
        # POSTs without (or with a wrong) CSRF token are refused.
        self.assertEqual(seen['no_csrf_status'], 403)
        self.assertEqual(seen['wrong_csrf_status'], 403)
        # Codes highlighted in the mail text, claim and answer.
        self.assertIn('64635-50', seen['highlighted_codes'])
        self.assertIn('M47.816', seen['highlighted_codes'])
        self.assertIn('claimed', seen['claim_flash'])
        self.assertEqual(seen['status_after_claim'], 'In review')
        self.assertIn('Answer queued', seen['answer_flash'])
        self.assertEqual(seen['status_after_answer'], 'Answered')
        self.assertTrue(seen['search_finds_case'])
        self.assertEqual(seen['after_logout_status'], 303)
        self.assertEqual(seen['console_errors'], [], 'CSP violations or page errors')

        # The answer reaches the submitter in their thread.
        def answer_mail():
            for m in sink_messages(sender):
                if answer_text in m.get_body(preferencelist=('plain',)).get_content():
                    return m
            return None
        self.assertTrue(wait_until(lambda: answer_mail() is not None, timeout=30), self.daemon_log())
        m = answer_mail()
        self.assertEqual(m['In-Reply-To'], question_id)
        self.assertIn(question_id, m['References'])
        self.assertIn('[%s]' % answer_ref, m['Subject'])
        self.assertIn('Bilateral facet injections', m['Subject'])
        self.assertEqual(m.envelope['rcpt_tos'], [sender])
        self.assertEqual(self.desk.case(answer_ref)['status'], 'answered')


if __name__ == '__main__':
    # ctest runs this file directly: a skip for missing chromium/node becomes exit code 77.
    result = unittest.main(exit=False, verbosity=2).result
    if not result.wasSuccessful():
        sys.exit(1)
    skipped_all = result.testsRun == 0 or len(result.skipped) == result.testsRun
    sys.exit(SETUP_SKIPPED if skipped_all else 0)
