"""A UIDVALIDITY change (the server renumbered the intake mailbox) makes no duplicate case and no
second ack: the mail is recognised by Message-ID and recorded as a duplicate (real Dovecot)."""
import os
import subprocess
import unittest

from harness import MS_DIR, SOURCE, Desk, make_mail, ports, sink_messages, token

USER = 'intake30@example.test'


def doveadm(*args, stdin=None):
    return subprocess.run([os.path.join(SOURCE, 'scripts', 'lib', 'mailservers'), 'doveadm', MS_DIR, *args],
                          input=stdin, capture_output=True, timeout=30)


class UidValidityTest(unittest.TestCase):
    def test_renumbered_mailbox_makes_no_duplicates(self):
        doveadm('mailbox', 'delete', '-u', USER, '-s', 'Intake')
        self.assertEqual(doveadm('mailbox', 'create', '-u', USER, 'Intake').returncode, 0)
        p = ports()
        desk = Desk(USER, imap_url='imaps://127.0.0.1:%s/Intake' % p['IMAPS_PORT'])
        self.addCleanup(desk.cleanup)
        sender = 'uv-%s@clinic.example' % token()
        mails = [make_mail(sender, 'UIDVALIDITY %d: 64635-50?' % i, 'Facet RFA.\n')[0] for i in range(3)]
        # The processed copies stay behind: copy them back after the renumbering, as a restore would.
        for raw in mails:
            self.assertEqual(doveadm('save', '-u', USER, '-m', 'Intake', stdin=raw).returncode, 0)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(desk.cases()), 3)
        self.assertEqual(len(sink_messages(sender)), 3)

        # Renumber: delete and recreate the mailbox (new UIDVALIDITY), deliver the same mails again.
        self.assertEqual(doveadm('mailbox', 'delete', '-u', USER, '-s', 'Intake').returncode, 0)
        self.assertEqual(doveadm('mailbox', 'create', '-u', USER, 'Intake').returncode, 0)
        for raw in mails:
            self.assertEqual(doveadm('save', '-u', USER, '-m', 'Intake', stdin=raw).returncode, 0)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('UIDVALIDITY of Intake changed', r.stderr)
        cases = desk.cases()
        self.assertEqual(len(cases), 3, 'a renumbered mailbox made duplicate cases')
        self.assertEqual(len(sink_messages(sender)), 3, 'a renumbered mailbox made duplicate acks')
        for c in cases:
            kinds = [e['kind'] for e in desk.case(c['ref'])['events']]
            self.assertIn('duplicate', kinds)
        status = desk.run('status', '--json', '--config', desk.config)
        self.assertIn('uidvalidity_changes', status.stdout)


if __name__ == '__main__':
    unittest.main()
