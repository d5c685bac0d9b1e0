"""Follow-ups thread into their case (real Dovecot + SMTP sink): replies shaped like Gmail, Outlook,
Apple Mail and Thunderbird send them, a stranger quoting our reference gets a new case, and an
out-of-office reply becomes a note without a reply or a state change."""
import unittest

from harness import Desk, imap_uids, make_mail, seed, sink_messages, token


class FollowUpTest(unittest.TestCase):
    def setUp(self):
        self.desk = Desk('intake28@example.test')
        self.addCleanup(self.desk.cleanup)
        self.sender = 'fu-%s@clinic.example' % token()
        raw, self.original_id = make_mail(self.sender, 'Facet RFA bilateral', 'Can we bill 64635-50 with 64636-50?\n')
        seed(self.desk.user, raw)
        r = self.desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        cases = self.desk.cases()
        self.assertEqual(len(cases), 1)
        self.ref = cases[0]['ref']
        acks = sink_messages(self.sender)
        self.assertEqual(len(acks), 1)
        self.ack = acks[0]

    def reply(self, subject, body, headers, sender=None, name='Dana Biller'):
        raw, mid = make_mail(sender or self.sender, subject, body, extra_headers=headers, name=name)
        seed(self.desk.user, raw)
        r = self.desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        return mid

    def assert_followup(self, mid, replies_before):
        cases = self.desk.cases()
        self.assertEqual(len(cases), 1, 'a follow-up opened a new case')
        case = self.desk.case(self.ref)
        self.assertEqual(case['messages'][-1]['message_id'], mid)
        self.assertEqual(case['status'], 'new')
        kinds = [o['kind'] for o in case['outbox']]
        self.assertEqual(kinds.count('followup_ack'), replies_before + 1)
        acks = sink_messages(self.sender)
        self.assertEqual(len(acks), replies_before + 2)
        followup_ack = acks[-1]
        self.assertEqual(followup_ack['In-Reply-To'], mid)
        self.assertIn(mid, followup_ack['References'])
        self.assertIn('[%s]' % self.ref, followup_ack['Subject'])
        self.assertEqual(followup_ack['Auto-Submitted'], 'auto-replied')
        self.assertEqual(imap_uids(self.desk.user, 'INBOX'), [])
        return case

    def test_mail_client_reply_shapes_thread_into_the_case(self):
        ack_id = self.ack['Message-ID']
        subject = self.ack['Subject']  # "Re: Facet RFA bilateral [CD-000001]"
        # Gmail: In-Reply-To + References, "On ... wrote:" quote.
        mid = self.reply('Re: ' + subject.removeprefix('Re: '),
                         'Both levels were L4-L5 and L5-S1.\n\nOn Thu, Nov 26, 2026 at 9:20 AM Coding Desk '
                         '<desk@example.test> wrote:\n> We have opened case %s\n' % self.ref,
                         [('In-Reply-To', ack_id), ('References', '%s %s' % (self.original_id, ack_id))])
        case = self.assert_followup(mid, 0)
        self.assertEqual(case['messages'][-1]['body_text'], 'Both levels were L4-L5 and L5-S1.')
        # Outlook: "RE:", Thread-Index/Thread-Topic and no In-Reply-To at all; the subject reference
        # carries it. Quoted history under a From:/Sent: block.
        mid = self.reply('RE: ' + subject.removeprefix('Re: '),
                         'Also: is 64636 an add-on?\n\n________________________________\nFrom: Coding Desk '
                         '<desk@example.test>\nSent: Thursday, November 26, 2026 9:20 AM\nSubject: %s\n\nWe have '
                         'opened case\n' % subject,
                         [('Thread-Topic', 'Facet RFA bilateral'), ('Thread-Index', 'AdlBc2VkZXNrAAAAAA==')])
        self.assert_followup(mid, 1)
        # Apple Mail: In-Reply-To + References, "On <date>, at <time>, <name> wrote:".
        mid = self.reply('Re: ' + subject.removeprefix('Re: '),
                         'Attached the op note.\n\n> On Nov 26, 2026, at 09:20, Coding Desk <desk@example.test> '
                         'wrote:\n> \n> We have opened case\n',
                         [('In-Reply-To', ack_id), ('References', ack_id)])
        self.assert_followup(mid, 2)
        # Thunderbird, subject edited so our reference is gone: the References header threads it.
        mid = self.reply('facet question, more detail',
                         'One more detail.\n\nOn 26.11.26 09:20, Coding Desk wrote:\n> We have opened case\n',
                         [('In-Reply-To', ack_id), ('References', '%s %s' % (self.original_id, ack_id)),
                          ('User-Agent', 'Mozilla Thunderbird')])
        case = self.assert_followup(mid, 3)
        self.assertEqual(len(case['messages']), 5)

    def test_stranger_with_our_reference_gets_a_new_case(self):
        stranger = 'other-%s@else.example' % token()
        self.reply('Re: %s' % self.ack['Subject'].removeprefix('Re: '), 'I saw this case number somewhere.\n',
                   [('In-Reply-To', self.ack['Message-ID'])], sender=stranger, name='Someone Else')
        cases = self.desk.cases()
        self.assertEqual(len(cases), 2)
        self.assertEqual(len(self.desk.case(self.ref)['messages']), 1)
        self.assertEqual(len(sink_messages(stranger)), 1)  # its own ack for its own case
        self.assertNotEqual(sink_messages(stranger)[0]['X-Casedesk-Case'], self.ref)

    def test_out_of_office_reply_attaches_as_a_note(self):
        self.reply('Automatic reply: %s' % self.ack['Subject'], 'I am out of the office until Monday.\n',
                   [('In-Reply-To', self.ack['Message-ID']), ('Auto-Submitted', 'auto-replied'),
                    ('X-Auto-Response-Suppress', 'All')])
        case = self.desk.case(self.ref)
        self.assertEqual(len(self.desk.cases()), 1)
        self.assertEqual(case['status'], 'new')
        self.assertEqual(len(case['messages']), 2)
        self.assertEqual([o['kind'] for o in case['outbox']], ['ack'])
        self.assertEqual(len(sink_messages(self.sender)), 1)  # no reply to an auto-reply
        self.assertIn('automated_mail', [e['kind'] for e in case['events']])


if __name__ == '__main__':
    unittest.main()
