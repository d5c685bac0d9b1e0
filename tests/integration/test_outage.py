"""Outages with a running daemon, on a private Dovecot + sink (the shared fixture stays up):
Dovecot stopped and restarted mid-run; the SMTP sink down for a while, then back."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import BIN, PASSWORD, SOURCE, free_port, make_mail, token, wait_until

MAILSERVERS = os.path.join(SOURCE, 'scripts', 'lib', 'mailservers')


class OutageTest(unittest.TestCase):
    def setUp(self):
        self.ms = tempfile.mkdtemp(prefix='cd-out-', dir='/tmp')
        os.chmod(self.ms, 0o755)
        self.ports = [free_port(), free_port(), free_port()]
        subprocess.run([MAILSERVERS, 'start', self.ms, *map(str, self.ports)], check=True, capture_output=True,
                       timeout=60)
        self.addCleanup(shutil.rmtree, self.ms, ignore_errors=True)
        self.addCleanup(subprocess.run, [MAILSERVERS, 'stop', self.ms], capture_output=True, timeout=60)
        self.dir = tempfile.mkdtemp(prefix='cd-out-desk-')
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.config = os.path.join(self.dir, 'casedesk.toml')
        with open(self.config, 'w') as f:
            f.write(f'''[imap]
url = "imaps://127.0.0.1:{self.ports[1]}/INBOX"
username = "intake@example.test"
password = "{PASSWORD}"
ca_file = "{self.ms}/ca.pem"
poll_interval = "1s"
timeout = "5s"
[smtp]
url = "smtp://127.0.0.1:{self.ports[2]}"
from = "Coding Desk <desk@example.test>"
timeout = "5s"
''')

    def seed(self, sender, subject):
        raw, _ = make_mail(sender, subject, 'Outage test.\n')
        path = os.path.join(self.dir, token() + '.eml')
        with open(path, 'wb') as f:
            f.write(raw)
        subprocess.run([MAILSERVERS, 'seed', self.ms, 'intake@example.test', path], check=True, capture_output=True,
                       timeout=30)

    def acks(self, sender):
        old = harness.MS_DIR
        harness.MS_DIR = self.ms
        try:
            return harness.sink_messages(sender)
        finally:
            harness.MS_DIR = old

    def start_daemon(self):
        proc = subprocess.Popen([BIN, 'serve', '--config', self.config], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def stop_daemon(self, proc):
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err[-3000:])
        return err

    def test_dovecot_stopped_and_restarted_mid_run(self):
        proc = self.start_daemon()
        first = 'before-%s@clinic.example' % token()
        self.seed(first, '99213 before the outage')
        self.assertTrue(wait_until(lambda: len(self.acks(first)) == 1, timeout=20))
        subprocess.run([MAILSERVERS, 'stop-imap', self.ms], check=True, capture_output=True, timeout=60)
        time.sleep(4)  # several failed polls and IDLE reconnects
        subprocess.run([MAILSERVERS, 'start-imap', self.ms], check=True, capture_output=True, timeout=60)
        second = 'after-%s@clinic.example' % token()
        self.seed(second, '99214 after the outage')
        self.assertTrue(wait_until(lambda: len(self.acks(second)) == 1, timeout=40), 'no ack after the restart')
        err = self.stop_daemon(proc)
        self.assertEqual(err.count('IDLE unavailable'), 1, err[-3000:])  # logged once per outage
        self.assertLessEqual(err.count('IMAP server'), 2, err[-3000:])  # "unusable" once, "is back" once
        self.assertEqual(len(self.acks(first)), 1)

    def test_smtp_sink_down_then_back_drains_the_outbox(self):
        proc = self.start_daemon()
        subprocess.run(['kill', '-TERM', open(os.path.join(self.ms, 'sink-launcher.pid')).read().strip()],
                       check=True)
        time.sleep(1.5)
        sender = 'queued-%s@clinic.example' % token()
        self.seed(sender, 'A4216 while SMTP is down')

        def case_pending():
            r = subprocess.run([BIN, 'queue', 'list', '--json', '--config', self.config], capture_output=True,
                               text=True, timeout=30)
            return r.returncode == 0 and '"ack_state": "pending"' in r.stdout
        self.assertTrue(wait_until(case_pending, timeout=20))
        # The sink comes back; the deferred ack is retried (first retry after 60 s at the latest).
        sink = subprocess.Popen(['/usr/bin/python3', os.path.join(SOURCE, 'scripts', 'lib', 'smtp_sink.py'),
                                 os.path.join(self.ms, 'sink'), str(self.ports[2])],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: sink.poll() is None and (sink.terminate(), sink.wait(timeout=10)))
        with open(os.path.join(self.ms, 'sink-launcher.pid'), 'w') as f:
            f.write(str(sink.pid))  # so `mailservers stop` stops this one too

        def sink_listening():
            import socket
            try:
                socket.create_connection(('127.0.0.1', self.ports[2]), timeout=1).close()
                return True
            except OSError:
                return False
        self.assertTrue(wait_until(sink_listening, timeout=10))
        self.assertTrue(wait_until(lambda: len(self.acks(sender)) == 1, timeout=90), 'outbox did not drain')
        self.stop_daemon(proc)


if __name__ == '__main__':
    unittest.main()
