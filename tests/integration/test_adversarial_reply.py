"""Issue 12 item 2: a reply that failed for good is visible (case JSON, queue filter, /metrics) and
goes out again with `casedesk outbox retry ID` once its cause is fixed. Real Dovecot and SMTP sink."""
import json
import os
import subprocess
import unittest

from harness import Desk, make_mail, seed, sink_messages, token

USER = 'intake31@example.test'


class ReplyFailedTest(unittest.TestCase):
    def test_failed_ack_is_visible_and_retried_once_the_cause_is_fixed(self):
        # The sink refuses "reject-..." recipients for good (550): the ack fails permanently.
        desk = Desk(USER)
        self.addCleanup(desk.cleanup)
        sender = 'reject-%s@clinic.example' % token()
        seed(USER, make_mail(sender, 'Modifier 59 on 29881?', 'Can we bill 29881 with 29877-59?')[0])
        desk.serve_once()
        [c] = desk.cases()
        self.assertTrue(c['reply_failed'], c)
        self.assertEqual(c['ack_state'], 'failed')
        detail = desk.case(c['ref'])
        self.assertIn('reply_failed', [e['kind'] for e in detail['events']])
        [item] = [o for o in detail['outbox'] if o['state'] == 'failed']

        listed = desk.run('queue', 'list', '--reply-failed', '--json', '--config', desk.config)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertEqual([x['ref'] for x in json.loads(listed.stdout)], [c['ref']])
        text = desk.run('queue', 'list', '--config', desk.config)
        self.assertIn('[REPLY FAILED]', text.stdout)

        # Retry needs an acting user (64 without); an unknown item is exit 1; a non-failed one is refused (3).
        subprocess.run([os.environ['CASEDESK_BIN'], 'user', 'add', 'alice', '--email', 'alice@desk.example',
                        '--password-stdin', '--config', desk.config], input='pw-alice-123\n', text=True,
                       env=desk.env(), check=True, capture_output=True)
        no_actor = desk.run('outbox', 'retry', str(item['id']), '--config', desk.config)
        self.assertEqual(no_actor.returncode, 64, no_actor.stderr)
        missing = desk.run('outbox', 'retry', str(item['id'] + 1000), '--as', 'alice', '--config', desk.config)
        self.assertEqual(missing.returncode, 1, missing.stderr)

        # Retried: pending again, no longer shown as failed, sent again by the next pass (which the
        # sink refuses once more, so the case shows the failure again, with a second attempt).
        r = desk.run('outbox', 'retry', str(item['id']), '--as', 'alice', '--config', desk.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('goes out again', r.stdout)
        again = desk.run('outbox', 'retry', str(item['id']), '--as', 'alice', '--config', desk.config)
        self.assertEqual(again.returncode, 3, again.stderr)  # pending now, not failed
        pending = desk.case(c['ref'])
        self.assertFalse(pending['reply_failed'])
        self.assertEqual(pending['ack_state'], 'pending')
        self.assertIn('reply_retry', [e['kind'] for e in pending['events']])
        desk.serve_once()
        after = desk.case(c['ref'])
        self.assertTrue(after['reply_failed'])
        self.assertEqual(after['ack_state'], 'failed')
        self.assertEqual(len([e for e in after['events'] if e['kind'] == 'ack_failed']), 2)
        self.assertEqual(sink_messages(sender), [])


if __name__ == '__main__':
    unittest.main()
