"""Exactly-once through crashes: SIGKILL the daemon at random points during a 200-mail intake,
restart it, repeat; every mail ends up as exactly one case with one ack (one repeat allowed per
kill: a kill between the server's 250 and recording it), and nothing is left in INBOX."""
import collections
import os
import random
import signal
import sqlite3
import subprocess
import time
import unittest

from harness import BIN, MS_DIR, SOURCE, Desk, imap_uids, make_mail, sink_messages, token, wait_until

MAILS = int(os.environ.get('CASEDESK_CRASH_MAILS', '200'))
KILLS = int(os.environ.get('CASEDESK_CRASH_KILLS', '10'))


class CrashTest(unittest.TestCase):
    def test_sigkill_at_random_points_loses_and_duplicates_nothing(self):
        desk = Desk('intake20@example.test')
        self.addCleanup(desk.cleanup)
        with open(desk.config) as f:
            text = f.read()
        with open(desk.config, 'w') as f:
            f.write(text.replace('poll_interval = "500ms"', 'poll_interval = "200ms"'))
        t = token()
        senders = ['crash-%s-%03d@clinic.example' % (t, i) for i in range(MAILS)]
        # One doveadm call for all mails: seed them unseen, arriving now.
        files = []
        for i, s in enumerate(senders):
            raw, _ = make_mail(s, 'Crash test %d: 99213-25 with 20610' % i, 'Case %d, dx M17.11.\n' % i)
            path = os.path.join(desk.dir, 'm%03d.eml' % i)
            with open(path, 'wb') as f:
                f.write(raw)
            files.append(path)
        subprocess.run([os.path.join(SOURCE, 'scripts', 'lib', 'mailservers'), 'seed', MS_DIR, desk.user, *files],
                       check=True, capture_output=True, timeout=120)

        rng = random.Random(int(os.environ.get('CASEDESK_CRASH_SEED', '0')) or None)
        progress = []
        for _ in range(KILLS):
            proc = subprocess.Popen([BIN, 'serve', '--config', desk.config], env=desk.env(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            try:
                with sqlite3.connect(os.path.join(desk.dir, 'casedesk.db')) as db:
                    progress.append(db.execute('SELECT count(*) FROM cases').fetchone()[0])
            except sqlite3.Error:
                progress.append(None)

        proc = subprocess.Popen([BIN, 'serve', '--config', desk.config], env=desk.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def drained():
            cases = desk.cases()
            return len(cases) >= MAILS and all(c['ack_state'] == 'sent' for c in cases)
        self.assertTrue(wait_until(drained, timeout=180, interval=1.0), 'intake did not finish')
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err[-2000:])

        cases = desk.cases()
        per_sender = collections.Counter(c['submitter']['addr'] for c in cases)
        self.assertEqual(len(cases), MAILS)
        self.assertEqual(set(per_sender), set(senders))
        self.assertEqual(max(per_sender.values()), 1)
        self.assertEqual(imap_uids(desk.user, 'INBOX'), [])
        self.assertEqual(len(imap_uids(desk.user, 'Processed')), MAILS)
        acks = collections.Counter()
        for s in senders:
            acks[s] = len(sink_messages(s))
        self.assertEqual(min(acks.values()), 1, 'a case without an ack')
        repeats = sum(acks.values()) - MAILS
        self.assertLessEqual(repeats, KILLS, 'more repeated acks than kills')
        print('crash test: %d mails, %d kills, %d repeated ack(s); cases after each kill: %s'
              % (MAILS, KILLS, repeats, progress))
        # The kills must have landed during the intake, not after it.
        self.assertLess(min(p for p in progress if p is not None), MAILS)


if __name__ == '__main__':
    unittest.main()
