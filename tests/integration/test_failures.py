"""What serve --once does when servers are unusable or the config is wrong."""
import os
import unittest

from harness import Desk, free_port, make_mail, ports, seed, sink_messages, token


class FailureTest(unittest.TestCase):
    def desk(self, user, **kw):
        d = Desk(user, **kw)
        self.addCleanup(d.cleanup)
        return d

    def test_unreachable_imap_exits_75(self):
        desk = self.desk('intake7@example.test', imap_url='imaps://127.0.0.1:%d/INBOX' % free_port())
        r = desk.serve_once()
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn('IMAP', r.stderr)

    def test_wrong_password_exits_75(self):
        desk = self.desk('intake7@example.test')
        env = desk.env()
        env['CASEDESK_IMAP_PASSWORD'] = 'wrong'
        import subprocess
        from harness import BIN
        r = subprocess.run([BIN, 'serve', '--config', desk.config, '--once'], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertNotIn('wrong', r.stderr)  # no secrets in logs

    def test_tls_is_verified_without_the_test_ca(self):
        desk = self.desk('intake7@example.test', ca_file='')
        r = desk.serve_once()
        self.assertEqual(r.returncode, 75, r.stderr)

    def test_smtp_down_keeps_the_ack_pending_and_sends_it_later(self):
        port = free_port()
        desk = self.desk('intake8@example.test', smtp_url='smtp://127.0.0.1:%d' % port)
        sender = 'later-%s@clinic.example' % token()
        raw, _ = make_mail(sender, 'A4216 saline flush billable?', 'Home infusion.\n')
        seed(desk.user, raw)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 75, r.stderr)
        [case] = desk.cases()
        self.assertEqual(case['ack_state'], 'pending')
        # Intake still happened: the case is committed even though SMTP was down.
        self.assertEqual(case['codes'][0]['code'], 'A4216')
        # SMTP back (the real sink): the same config with the right port sends it. Make it due now.
        with open(desk.config) as f:
            text = f.read()
        with open(desk.config, 'w') as f:
            f.write(text.replace('127.0.0.1:%d' % port, '127.0.0.1:%s' % ports()['SMTP_PORT']))
        import sqlite3
        with sqlite3.connect(os.path.join(desk.dir, 'casedesk.db')) as db:
            db.execute('UPDATE outbox SET next_attempt_at = 0')
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(desk.cases()[0]['ack_state'], 'sent')
        self.assertEqual(len(sink_messages(sender)), 1)

    def test_bad_config_exits_78_naming_file_and_line(self):
        desk = self.desk('intake7@example.test')
        with open(desk.config, 'a') as f:
            f.write('[desk]\nnmae = "typo"\n')
        r = desk.serve_once()
        self.assertEqual(r.returncode, 78)
        self.assertRegex(r.stderr, r'casedesk\.toml:\d+: unknown key desk\.nmae')
        r = desk.run('check-config', desk.config)
        self.assertEqual(r.returncode, 78)
        self.assertIn('desk.nmae', r.stderr)


if __name__ == '__main__':
    unittest.main()
