"""The long-running daemon: polls, picks up new mail, stops cleanly on SIGTERM and SIGINT."""
import signal
import subprocess
import time
import unittest

from harness import BIN, Desk, imap_uids, make_mail, seed, sink_messages, token, wait_until


class ServeTest(unittest.TestCase):
    def run_daemon_until(self, sig):
        desk = Desk('intake9@example.test')
        self.addCleanup(desk.cleanup)
        proc = subprocess.Popen([BIN, 'serve', '--config', desk.config], env=desk.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        sender = 'poll-%s@clinic.example' % token()
        raw, _ = make_mail(sender, 'Patient name: Jane Roe, 27447-RT?', 'Total knee, dx M17.11.\n')
        seed(desk.user, raw)
        self.assertTrue(wait_until(lambda: len(sink_messages(sender)) == 1, timeout=20), 'no ack within 20 s')
        self.assertEqual(imap_uids(desk.user, 'INBOX'), [])
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            self.fail('daemon did not stop within 15 s')
        self.assertEqual(proc.returncode, 0, err)
        # Logs carry case refs and UIDs, never names, addresses or subjects (no PHI).
        self.assertRegex(err, r'CD-\d{6}')
        for secret in ('Jane Roe', sender, 'M17.11', '27447'):
            self.assertNotIn(secret, err)
        return desk

    def test_idle_push_picks_up_new_mail_without_waiting_for_the_poll(self):
        # Polling every 60 s: an ack within 20 s can only come from IDLE's EXISTS push.
        desk = Desk('intake18@example.test')
        self.addCleanup(desk.cleanup)
        with open(desk.config) as f:
            text = f.read()
        with open(desk.config, 'w') as f:
            f.write(text.replace('poll_interval = "500ms"', 'poll_interval = "60s"'))
        proc = subprocess.Popen([BIN, 'serve', '--config', desk.config], env=dict(desk.env(), SPDLOG_LEVEL='debug'),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        time.sleep(1.5)  # the first pass and IDLE set-up
        for i in range(3):
            sender = 'idle-%s-%d@clinic.example' % (token(), i)
            raw, _ = make_mail(sender, 'IDLE %d: 99213-25 and 20610?' % i, 'Same-day injection.\n')
            seed(desk.user, raw)
            if not wait_until(lambda: len(sink_messages(sender)) == 1, timeout=20):
                proc.kill()
                self.fail('no ack via IDLE; daemon log:\n' + proc.communicate(timeout=10)[1][-4000:])
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn('IDLE active', err)
        self.assertIn('IDLE: mailbox changed', err)

    def test_sigterm_stops_cleanly(self):
        self.run_daemon_until(signal.SIGTERM)

    def test_sigint_stops_cleanly(self):
        self.run_daemon_until(signal.SIGINT)


if __name__ == '__main__':
    unittest.main()
