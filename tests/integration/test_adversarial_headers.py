"""Issue 12 items 1 and 3, end to end against the real Dovecot and SMTP sink.

Item 1: a 10,000-character subject without a space, a 2,000-character display name and 500
References make every reply template go out (ack, follow-up ack, answer, question, too_large,
unknown_sender, over_quota): the sink accepts each, no line is over 998 octets, and Python's
`email` parses each back with the case reference in its subject.

Item 3: an encoded-word display name never becomes the address; a From with no valid address is a
case (state new) with submitter.addr null, no ack and ack_reason "no_valid_sender"; an invalid
Reply-To is not used."""
import email
import email.headerregistry
import email.policy
import os
import subprocess
import unittest
from email.message import EmailMessage

from harness import BIN, Desk, make_mail, seed, sink_messages, token

LONG_SUBJECT = 'S' * 10000
LONG_NAME = ' '.join(['Dana'] * 200) + ' ' + 'B' * 1000  # 2,000 characters, one word of 1,000
SENT = []  # every raw reply checked, for the line-length and parse-back assertions


def mail_bytes(sender, subject=LONG_SUBJECT, name=LONG_NAME, body='Can we bill 99214-25 with 20610? dx M17.11\n',
               references=(), in_reply_to=None, reply_to=None, from_header=None):
    """A mail as a client would write it: Python's email folds and encodes the long header words."""
    m = EmailMessage(policy=email.policy.SMTP)
    if from_header is not None:
        m['From'] = from_header
    else:
        m['From'] = email.headerregistry.Address(display_name=name, addr_spec=sender)
    m['To'] = 'Coding Desk <desk@example.test>'
    m['Subject'] = subject
    m['Date'] = 'Thu, 26 Nov 2026 09:15:00 -0500'
    m['Message-ID'] = '<%s@clinic.example>' % token()
    if references:
        m['References'] = ' '.join(references)
    if in_reply_to:
        m['In-Reply-To'] = in_reply_to
    if reply_to:
        m['Reply-To'] = reply_to
    m.set_content(body)
    return m.as_bytes()


class TemplateHeaderTest(unittest.TestCase):
    def assert_sane(self, msg, ref, kind):
        """No line over 998 octets in the bytes the sink got; Python parses it back whole, with
        the case reference in one-line subject and exactly one of each address header."""
        for line in msg.raw.split(b'\n'):
            self.assertLessEqual(len(line.rstrip(b'\r')), 998, '%s: a line of %d octets' % (kind, len(line)))
        back = email.message_from_bytes(msg.raw, policy=email.policy.default)
        self.assertEqual([d for d in back.defects], [], kind)
        if ref:
            self.assertIn('[%s]' % ref, str(back['Subject']), kind)
        self.assertNotIn('\n', str(back['Subject']))
        for name in ('To', 'From', 'Subject', 'Message-ID'):
            self.assertEqual(len(back.get_all(name) or []), 1, '%s: %s' % (kind, name))
        self.assertIsNone(back['Bcc'])
        self.assertEqual(msg.envelope['rcpt_tos'], [back['To'].addresses[0].addr_spec], kind)
        return back

    def test_every_template_goes_out_with_a_huge_subject_name_and_references(self):
        extra = '[limits]\nmax_message_size = "200KB"\n'
        desk = Desk('intake32@example.test', extra=extra)
        self.addCleanup(desk.cleanup)
        sender = 'long-%s@clinic.example' % token()
        refs = ['<r%d.%s@clinic.example>' % (i, token()) for i in range(500)]
        seed(desk.user, mail_bytes(sender, references=refs))
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        [case] = desk.cases()
        ref = case['ref']
        [ack] = sink_messages(sender)
        back = self.assert_sane(ack, ref, 'ack')
        self.assertEqual(back['To'].addresses[0].addr_spec, sender)
        self.assertIn('BBBB', back['To'].addresses[0].display_name)  # the name survives, encoded
        self.assertLessEqual(len(back['References'].split()), 41)  # the first and the last 40

        # A consultant's question; the submitter's reply in the thread (500 References again) gets
        # its follow-up ack; then the answer.
        subprocess.run([BIN, 'user', 'add', 'alice', '--email', 'alice@desk.example', '--password-stdin',
                        '--config', desk.config], input='pw-alice-123\n', text=True, env=desk.env(), check=True,
                       capture_output=True)

        def consultant(verb, text=None):
            p = subprocess.run([BIN, 'queue', verb, ref] + (['--file', '-'] if text else []) +
                               ['--as', 'alice', '--config', desk.config],
                               input=text, text=True, env=desk.env(), capture_output=True)
            self.assertEqual(p.returncode, 0, '%s: %s' % (verb, p.stderr))

        consultant('claim')
        consultant('ask', 'Which knee?\n')
        self.assertEqual(desk.serve_once().returncode, 0)
        question = sink_messages(sender)[-1]
        seed(desk.user, mail_bytes(sender, subject='Re: ' + str(question['Subject']),
                                   references=refs + [question['Message-ID']], in_reply_to=question['Message-ID'],
                                   body='The left one.\n'))
        self.assertEqual(desk.serve_once().returncode, 0)
        self.assertEqual(len(desk.cases()), 1, 'the follow-up opened a new case')
        consultant('claim')
        consultant('answer', 'Yes, with modifier 25.\n')
        self.assertEqual(desk.serve_once().returncode, 0)
        detail = desk.case(ref)
        self.assertFalse(detail['reply_failed'], [o for o in detail['outbox'] if o['state'] != 'sent'])
        kinds = [o['kind'] for o in detail['outbox']]
        for kind in ('ack', 'question', 'followup_ack', 'answer'):
            self.assertIn(kind, kinds)
        msgs = sink_messages(sender)
        self.assertEqual(len(msgs), len(kinds), kinds)
        for m, kind in zip(msgs, kinds):
            self.assert_sane(m, ref, kind)

    def test_refusal_templates_go_out_with_a_huge_subject_and_name(self):
        # unknown_sender, then (registered, quota 1) over_quota, then too_large.
        desk = Desk('intake33@example.test',
                    extra='[limits]\nmax_message_size = "60KB"\n[submitters]\nunknown = "reject"\n')
        self.addCleanup(desk.cleanup)
        stranger = 'stranger-%s@clinic.example' % token()
        big = 'big-%s@clinic.example' % token()
        seed(desk.user, mail_bytes(stranger))
        seed(desk.user, mail_bytes(big, body='x' * 70000 + '\n'))
        self.assertEqual(desk.serve_once().returncode, 0)
        [refused] = sink_messages(stranger)
        ref = [c['ref'] for c in desk.cases()][0]
        self.assert_sane(refused, ref, 'unknown_sender')
        [too_large] = sink_messages(big)
        self.assert_sane(too_large, None, 'too_large')

        quota = Desk('intake34@example.test', extra='[submitters]\nguest_quota = 1\n')
        self.addCleanup(quota.cleanup)
        guest = 'guest-%s@clinic.example' % token()
        seed(quota.user, mail_bytes(guest))
        seed(quota.user, mail_bytes(guest))
        self.assertEqual(quota.serve_once().returncode, 0)
        cases = sorted(quota.cases(), key=lambda c: c['ref'])
        self.assertEqual([c['status'] for c in cases], ['new', 'rejected'])
        msgs = sink_messages(guest)
        self.assertEqual(len(msgs), 2)
        for m in msgs:
            ref = [c['ref'] for c in cases if '[%s]' % c['ref'] in str(m['Subject'])]
            self.assertEqual(len(ref), 1, str(m['Subject'])[-40:])
            self.assert_sane(m, ref[0], 'ack/over_quota')


class SenderAddressTest(unittest.TestCase):
    def test_encoded_names_invalid_from_and_invalid_reply_to(self):
        desk = Desk('intake35@example.test')
        self.addCleanup(desk.cleanup)
        t = token()
        eve = 'eve-%s@evil.example' % t
        dana = 'dana-%s@clinic.example' % t
        def raw_from(subject, from_header, extra=None):
            seed(desk.user, make_mail(from_header, subject, 'Can we bill 99214-25 with 20610?\n', name=None,
                                      extra_headers=extra)[0])
        raw_from('Encoded name %s: 64493-50?' % t, '=?utf-8?q?victim@elsewhere.example?= <%s>' % eve)
        raw_from('CR LF name %s: 29881?' % t, '=?utf-8?q?Dana=0D=0ABcc:_bcc-%s@evil.example?= <%s>' % (t, dana))
        raw_from('No address %s: 99213?' % t, 'Nobody <nobody-%s@@clinic.example>' % t)
        raw_from('Bad Reply-To %s: 20610?' % t, 'Dana <%s>' % dana, [('Reply-To', '<dana-%s@@clinic.example>' % t)])
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        cases = {c['subject'].split(' %s' % t)[0]: c for c in desk.cases()}
        self.assertEqual(len(cases), 4, list(cases))

        self.assertEqual(cases['Encoded name']['submitter']['addr'], eve)
        self.assertEqual(len(sink_messages(eve)), 1)
        self.assertEqual(sink_messages('victim@elsewhere.example'), [])

        self.assertEqual(cases['CR LF name']['submitter']['addr'], dana)
        self.assertEqual(sink_messages('bcc-%s@evil.example' % t), [])

        nobody = cases['No address']
        self.assertIsNone(nobody['submitter']['addr'])
        self.assertEqual(nobody['status'], 'new')
        self.assertEqual(nobody['ack_reason'], 'no_valid_sender')
        self.assertEqual(nobody['ack_state'], 'suppressed')
        self.assertEqual(desk.case(nobody['ref'])['outbox'], [])
        shown = desk.run('queue', 'show', nobody['ref'], '--config', desk.config)
        self.assertIn('(no valid address)', shown.stdout)

        # The invalid Reply-To is ignored: the ack goes to the From.
        self.assertEqual(cases['Bad Reply-To']['ack_state'], 'sent')
        to_dana = [m for m in sink_messages(dana) if 'Bad Reply-To' in str(m['Subject'])]
        self.assertEqual(len(to_dana), 1)
        for m in sink_messages(dana) + sink_messages(eve):
            self.assertEqual(m.envelope['rcpt_tos'], [m['To'].addresses[0].addr_spec])


if __name__ == '__main__':
    unittest.main()
