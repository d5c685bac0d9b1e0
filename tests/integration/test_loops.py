"""Loop protection, size limit, quarantine, first start on an old mailbox, the one-daemon lock."""
import os
import sqlite3
import subprocess
import time
import unittest

from harness import BIN, Desk, imap_uids, make_mail, seed, sink_messages, token, wait_until


class LoopProtectionTest(unittest.TestCase):
    def desk(self, user, **kw):
        d = Desk(user, **kw)
        self.addCleanup(d.cleanup)
        return d

    def test_autoresponder_headers_and_noreply_senders_get_no_ack(self):
        desk = self.desk('intake11@example.test')
        t = token()
        variants = [
            ('exch-%s@clinic.example' % t, [('X-Auto-Response-Suppress', 'All')]),
            ('xar-%s@clinic.example' % t, [('X-Autoreply', 'yes')]),
            ('xars-%s@clinic.example' % t, [('X-Autorespond', 'vacation')]),
            ('list-%s@clinic.example' % t, [('List-Id', '<coders.lists.example>')]),
            ('prec-%s@clinic.example' % t, [('Precedence', 'auto_reply')]),
            ('noreply@n-%s.example' % t, []),
            ('no-reply@n-%s.example' % t, []),
        ]
        for sender, headers in variants:
            raw, _ = make_mail(sender, 'Re: your case', 'Thanks!\n', extra_headers=headers, name='')
            seed(desk.user, raw)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        cases = desk.cases()
        self.assertEqual(len(cases), len(variants))  # a suppressed reply never drops the case
        for c in cases:
            self.assertEqual(c['ack_state'], 'suppressed', c)
        for sender, _ in variants:
            self.assertEqual(sink_messages(sender), [])

    def test_a_responder_without_loop_headers_hits_the_per_sender_cap(self):
        desk = self.desk('intake12@example.test', extra='[limits]\nauto_replies_per_sender = 3\n')
        sender = 'vacation-%s@clinic.example' % token()
        # A vacation responder that answers every reply with a plain-looking mail.
        for round_ in range(3):
            for i in range(2):
                raw, _ = make_mail(sender, 'I am on vacation (%d/%d)' % (round_, i), 'Back next week.\n')
                seed(desk.user, raw)
            r = desk.serve_once()
            self.assertEqual(r.returncode, 0, r.stderr)
        cases = desk.cases()
        self.assertEqual(len(cases), 6)
        self.assertEqual(len(sink_messages(sender)), 3)
        capped = [c for c in cases if c['ack_state'] == 'suppressed']
        self.assertEqual(len(capped), 3)
        self.assertIn('cap', capped[0]['ack_reason'])

    def test_outgoing_acks_carry_loop_headers(self):
        desk = self.desk('intake13@example.test')
        sender = 'hdr-%s@clinic.example' % token()
        raw, _ = make_mail(sender, '97110 x3 units?', 'PT visit.\n')
        seed(desk.user, raw)
        self.assertEqual(desk.serve_once().returncode, 0)
        [ack] = sink_messages(sender)
        self.assertEqual(ack['Auto-Submitted'], 'auto-replied')
        self.assertEqual(ack['X-Auto-Response-Suppress'], 'All')


class BounceTest(unittest.TestCase):
    def test_a_bounce_for_our_ack_marks_it_failed_and_makes_no_case(self):
        desk = Desk('intake19@example.test')
        self.addCleanup(desk.cleanup)
        sender = 'gone-%s@clinic.example' % token()
        raw, _ = make_mail(sender, '64483 TFESI L5-S1?', 'Transforaminal epidural.\n')
        seed(desk.user, raw)
        self.assertEqual(desk.serve_once().returncode, 0)
        [ack] = sink_messages(sender)
        [case] = desk.cases()
        self.assertEqual(case['ack_state'], 'sent')
        dsn = (
            'From: Mail Delivery System <MAILER-DAEMON@mx.clinic.example>\r\n'
            'To: desk@example.test\r\n'
            'Subject: Undelivered Mail Returned to Sender\r\n'
            'Date: Thu, 26 Nov 2026 21:00:00 +0000\r\n'
            'Message-ID: <dsn-%s@mx.clinic.example>\r\n'
            'Auto-Submitted: auto-replied\r\n'
            'MIME-Version: 1.0\r\n'
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            '--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n'
            '--b\r\nContent-Type: message/delivery-status\r\n\r\n'
            'Reporting-MTA: dns; mx.clinic.example\r\n\r\n'
            'Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n'
            'Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n'
            '--b\r\nContent-Type: text/rfc822-headers\r\n\r\n'
            'From: Coding Desk <desk@example.test>\r\nMessage-ID: %s\r\nSubject: %s\r\n'
            '--b--\r\n') % (token(), sender, ack['Message-ID'], ack['Subject'])
        seed(desk.user, dsn.encode())
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        cases = desk.cases()
        self.assertEqual(len(cases), 1)  # the bounce made no case
        self.assertEqual(cases[0]['ack_state'], 'failed')
        self.assertIn('bounced', cases[0]['ack_reason'])
        self.assertIn('5.1.1', cases[0]['ack_reason'])
        self.assertEqual(imap_uids(desk.user, 'INBOX'), [])
        self.assertEqual(len(sink_messages('MAILER-DAEMON@mx.clinic.example')), 0)


class LimitsTest(unittest.TestCase):
    def desk(self, user, **kw):
        d = Desk(user, **kw)
        self.addCleanup(d.cleanup)
        return d

    def test_too_large_mail_is_quarantined_unparsed_and_intake_goes_on(self):
        desk = self.desk('intake14@example.test', extra='[limits]\nmax_message_size = "2KB"\n')
        t = token()
        big, _ = make_mail('big-%s@clinic.example' % t, 'Huge scan', 'x' * 5000 + '\n')
        small, _ = make_mail('small-%s@clinic.example' % t, '99213-25?', 'E/M question.\n')
        seed(desk.user, big)
        seed(desk.user, small)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(desk.cases()), 1)
        self.assertEqual(len(imap_uids(desk.user, 'Failed')), 1)
        self.assertEqual(len(imap_uids(desk.user, 'Processed')), 1)
        q = desk.run('quarantine', 'list', '--json', '--config', desk.config)
        self.assertEqual(q.returncode, 0, q.stderr)
        import json
        [rec] = json.loads(q.stdout)
        self.assertTrue(rec['reason'].startswith('too_large'))
        self.assertIsNone(rec['case_ref'])
        self.assertGreater(rec['size'], 0)  # the header was kept
        # The sender hears why, threaded to the mail, once.
        [reply] = sink_messages('big-%s@clinic.example' % t)
        self.assertEqual(reply['Subject'], 'Re: Huge scan')
        self.assertEqual(reply['Auto-Submitted'], 'auto-replied')
        self.assertIsNotNone(reply['In-Reply-To'])
        self.assertIn('2 KB', reply.get_body(('plain',)).get_content())
        self.assertEqual(desk.serve_once().returncode, 0)
        self.assertEqual(len(sink_messages('big-%s@clinic.example' % t)), 1)

    def test_quarantine_retry_turns_stored_mail_into_a_case(self):
        desk = self.desk('intake15@example.test', extra='[limits]\nmax_message_size = "1KB"\n')
        sender = 'retry-%s@clinic.example' % token()
        raw, _ = make_mail(sender, 'Long question about 27447', 'Total knee. ' * 150 + '\n')
        seed(desk.user, raw)
        self.assertEqual(desk.serve_once().returncode, 0)
        self.assertEqual(desk.cases(), [])
        # Only the header was kept for an oversized mail; put the full bytes in to model a mail
        # quarantined after fetching (the retry processes whatever bytes the store holds).
        with sqlite3.connect(os.path.join(desk.dir, 'casedesk.db')) as db:
            db.execute('UPDATE quarantine SET raw = ?', (raw,))
        r = desk.run('quarantine', 'retry', '1', '--config', desk.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        [case] = desk.cases()
        self.assertEqual(case['codes'][0]['code'], '27447')
        self.assertIn(case['ref'], r.stdout)
        import json
        [rec] = json.loads(desk.run('quarantine', 'list', '--json', '--config', desk.config).stdout)
        self.assertEqual(rec['case_ref'], case['ref'])
        self.assertEqual(desk.run('quarantine', 'retry', '99', '--config', desk.config).returncode, 1)

    def test_first_start_imports_old_mail_without_ack(self):
        # ack_window 1s: mail seeded before the first start counts as old once 2 s have passed.
        desk = self.desk('intake16@example.test', extra='[intake]\nack_window = "1s"\n')
        t = token()
        old_sender = 'old-%s@clinic.example' % t
        raw, _ = make_mail(old_sender, 'Old question 99214', 'From last month.\n')
        seed(desk.user, raw)
        time.sleep(2.2)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        [case] = desk.cases()
        self.assertEqual(case['ack_state'], 'suppressed')
        self.assertIn('imported', case['ack_reason'])
        self.assertEqual(sink_messages(old_sender), [])
        # Fresh mail after the first start is acked as usual.
        new_sender = 'new-%s@clinic.example' % t
        raw, _ = make_mail(new_sender, 'New question 99214', 'Today.\n')
        seed(desk.user, raw)
        self.assertEqual(desk.serve_once().returncode, 0)
        self.assertEqual(len(sink_messages(new_sender)), 1)


class LockTest(unittest.TestCase):
    def test_a_second_daemon_on_the_same_mailbox_is_refused(self):
        desk = Desk('intake17@example.test')
        self.addCleanup(desk.cleanup)
        proc = subprocess.Popen([BIN, 'serve', '--config', desk.config], env=desk.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        db = os.path.join(desk.dir, 'casedesk.db')

        def locked():
            try:
                with sqlite3.connect(db) as c:
                    return c.execute('SELECT count(*) FROM daemon_locks').fetchone()[0] == 1
            except sqlite3.Error:
                return False
        self.assertTrue(wait_until(locked, timeout=10))
        r = desk.serve_once()
        self.assertEqual(r.returncode, 75)
        self.assertIn('another casedesk (pid %d' % proc.pid, r.stderr)
        proc.terminate()
        proc.communicate(timeout=15)
        self.assertEqual(proc.returncode, 0)
        # Released on a clean stop: the next one runs.
        self.assertEqual(desk.serve_once().returncode, 0)


if __name__ == '__main__':
    unittest.main()
