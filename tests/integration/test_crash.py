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
        db_path = os.path.join(desk.dir, 'casedesk.db')

        def committed():
            try:
                with sqlite3.connect(db_path, timeout=5) as db:
                    return db.execute('SELECT count(*) FROM cases').fetchone()[0]
            except sqlite3.Error:
                return 0  # not created yet

        # Each kill aims at a random point of what is left of the intake (the daemon takes a few
        # hundred mails a second, so a fixed delay would mostly land after it): wait until a random
        # number of further cases is committed, then a random few milliseconds more so the kill
        # falls anywhere in fetch, parse, commit, move or send. Once intake is over, kills land
        # while the outbox drains.
        progress = []
        for _ in range(KILLS):
            before = committed()
            proc = subprocess.Popen([BIN, 'serve', '--config', desk.config], env=desk.env(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            remaining = MAILS - before
            if remaining > 0:
                target = before + rng.randint(1, max(1, remaining // 2))
                deadline = time.monotonic() + 30
                while committed() < target and time.monotonic() < deadline and proc.poll() is None:
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 0.02))
            else:
                time.sleep(rng.uniform(0.02, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            progress.append(committed())

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
        self.assertGreaterEqual(sum(1 for p in progress if p < MAILS), min(KILLS, 5), progress)


if __name__ == '__main__':
    unittest.main()
