"""Intake end to end: real Dovecot -> casedesk serve --once -> SQLite cases -> acks in the real SMTP sink."""
import unittest

from harness import Desk, imap_uids, make_mail, seed, sink_messages, token


class IntakeTest(unittest.TestCase):
    def desk(self, user, **kw):
        d = Desk(user, **kw)
        self.addCleanup(d.cleanup)
        return d

    def test_cases_are_committed_moved_and_acked_once_with_threading(self):
        desk = self.desk('intake1@example.test')
        t = token()
        senders = ['coder-%s-%d@clinic.example' % (t, i) for i in range(3)]
        reply_to = 'billing-%s@clinic.example' % t
        sent = []
        for i, s in enumerate(senders):
            extra = [('Reply-To', 'Billing Office <%s>' % reply_to)] if i == 2 else []
            extra += [('References', '<older-%s@clinic.example>' % t)] if i == 1 else []
            raw, mid = make_mail(s, 'Can we bill 64635-50 with 64636-50? case %d' % i,
                                 'Bilateral RFA, dx M47.816.\nThanks\n', extra_headers=extra)
            seed(desk.user, raw)
            sent.append(mid)

        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        cases = desk.cases()
        self.assertEqual(len(cases), 3)
        for c in cases:
            self.assertEqual(c['status'], 'new')
            self.assertEqual(c['ack_state'], 'sent')
            self.assertRegex(c['ref'], r'^CD-\d{6}$')
            self.assertEqual([x['code'] for x in c['codes']], ['64635', '64636', 'M47.816'])
            self.assertEqual(c['codes'][0]['modifiers'], ['50'])
        self.assertEqual(imap_uids(desk.user, 'INBOX'), [])
        self.assertEqual(len(imap_uids(desk.user, 'Processed')), 3)

        by_subject = {c['subject']: c for c in cases}
        for i, (s, mid) in enumerate(zip(senders, sent)):
            rcpt = reply_to if i == 2 else s
            acks = sink_messages(rcpt)
            self.assertEqual(len(acks), 1, rcpt)
            ack = acks[0]
            case = by_subject['Can we bill 64635-50 with 64636-50? case %d' % i]
            self.assertEqual(ack['In-Reply-To'], mid)
            self.assertIn(mid, ack['References'])
            if i == 1:
                self.assertTrue(ack['References'].startswith('<older-%s@clinic.example>' % t))
            self.assertEqual(ack['Subject'], 'Re: Can we bill 64635-50 with 64636-50? case %d [%s]' % (i, case['ref']))
            self.assertEqual(ack['Auto-Submitted'], 'auto-replied')
            self.assertEqual(ack.envelope['mail_from'], 'desk@example.test')
            text = ack.get_body(('plain',)).get_content()
            self.assertIn(case['ref'], text)
            self.assertIn('M47.816', text)
            html = ack.get_body(('html',)).get_content()
            self.assertIn(case['ref'], html)
            detail = desk.case(case['ref'])
            self.assertEqual(detail['outbox'][0]['message_id'], ack['Message-ID'])
            self.assertEqual(detail['messages'][0]['message_id'], mid)

        import json
        st = json.loads(desk.run('status', '--json', '--config', desk.config).stdout)
        self.assertEqual(st['counters']['cases_created'], 3)
        self.assertEqual(st['counters']['replies_sent'], 3)
        self.assertEqual(st['cases'], {'new': 3})
        self.assertEqual(st['outbox'], {'sent': 3})
        self.assertIsNotNone(st['last_successful_intake'])
        self.assertEqual(st['daemons'], [])  # --once released its lock

        # A second run finds nothing new: no case, no ack.
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(desk.cases()), 3)
        for i, s in enumerate(senders):
            self.assertEqual(len(sink_messages(reply_to if i == 2 else s)), 1)

    def test_automated_mail_becomes_a_case_without_ack(self):
        desk = self.desk('intake2@example.test')
        t = token()
        variants = [
            ('auto-%s@clinic.example' % t, [('Auto-Submitted', 'auto-replied')]),
            ('list-%s@clinic.example' % t, [('Precedence', 'bulk')]),
            ('MAILER-DAEMON-%s@clinic.example' % t, []),  # not the mailer-daemon: gets an ack
            ('mailer-daemon@bounce-%s.example' % t, []),
        ]
        for sender, headers in variants:
            raw, _ = make_mail(sender, 'Out of office %s' % t, 'I am away until Monday.\n', extra_headers=headers,
                               name='')
            seed(desk.user, raw)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        states = {c['submitter']['addr']: (c['ack_state'], c['ack_reason']) for c in desk.cases()}
        self.assertEqual(len(states), 4)
        self.assertEqual(states[variants[0][0]][0], 'suppressed')
        self.assertIn('auto-replied', states[variants[0][0]][1])
        self.assertEqual(states[variants[1][0]][0], 'suppressed')
        self.assertEqual(states[variants[2][0]][0], 'sent')
        self.assertEqual(states[variants[3][0]][0], 'suppressed')
        for sender, _ in variants[:2] + variants[3:]:
            self.assertEqual(sink_messages(sender), [])
        self.assertEqual(len(sink_messages(variants[2][0])), 1)

    def test_the_same_mail_twice_is_one_case(self):
        desk = self.desk('intake3@example.test')
        sender = 'dup-%s@clinic.example' % token()
        raw, mid = make_mail(sender, 'J1885 x2 units with 96372?', 'Toradol J1885 x2 and 96372.\n')
        seed(desk.user, raw)
        seed(desk.user, raw)
        # A different mail that reuses the Message-ID is still stored, with a warning.
        other, _ = make_mail(sender, 'Another question', 'Is 99213-25 OK?\n', message_id=mid,
                             date='Fri, 27 Nov 2026 10:00:00 -0500')
        seed(desk.user, other)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        cases = desk.cases()
        self.assertEqual(len(cases), 2)
        self.assertEqual(imap_uids(desk.user, 'INBOX'), [])
        self.assertEqual(len(imap_uids(desk.user, 'Processed')), 3)
        self.assertEqual(len(sink_messages(sender)), 2)
        first = desk.case(cases[0]['ref'])
        self.assertIn('duplicate', [e['kind'] for e in first['events']])
        second = desk.case(cases[1]['ref'])
        self.assertTrue(any('Message-ID already used' in w for w in second['messages'][0]['warnings']))

    def test_permanent_smtp_failure_is_visible_on_the_case(self):
        desk = self.desk('intake4@example.test')
        sender = 'reject-%s@clinic.example' % token()
        raw, _ = make_mail(sender, 'Is 99214-25 with 20610 OK?', 'Knee injection same day.\n')
        seed(desk.user, raw)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        [case] = desk.cases()
        self.assertEqual(case['ack_state'], 'failed')
        self.assertIn('550', case['ack_reason'])
        detail = desk.case(case['ref'])
        self.assertEqual(detail['outbox'][0]['state'], 'failed')
        # Permanent: a second run does not retry.
        desk.serve_once()
        self.assertEqual(desk.case(case['ref'])['outbox'][0]['attempts'], 1)

    def test_temporary_smtp_failure_is_retried_later(self):
        desk = self.desk('intake5@example.test')
        sender = 'defer-%s@clinic.example' % token()
        raw, _ = make_mail(sender, 'E0601 CPAP month 4 KX?', 'Compliance download attached.\n')
        seed(desk.user, raw)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        [case] = desk.cases()
        self.assertEqual(case['ack_state'], 'pending')
        out = desk.case(case['ref'])['outbox'][0]
        self.assertEqual(out['state'], 'pending')
        self.assertEqual(out['attempts'], 1)
        self.assertIn('451', out['last_error'])

    def test_plain_imap_port_on_loopback_upgrades_with_starttls(self):
        from harness import ports
        desk = self.desk('intake6@example.test', imap_url='imap://127.0.0.1:%s/INBOX' % ports()['IMAP_PORT'])
        sender = 'tls-%s@clinic.example' % token()
        raw, _ = make_mail(sender, 'G0283 vs 97014?', 'Medicare e-stim.\n')
        seed(desk.user, raw)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(desk.cases()), 1)
        self.assertEqual(len(sink_messages(sender)), 1)

    def test_committed_but_unmoved_mail_is_only_moved_on_the_next_pass(self):
        # Dovecot's maildir layout refuses "/" in names: CREATE and UID MOVE fail after the commit,
        # which is the state a crash between commit and move leaves behind.
        desk = self.desk('intake10@example.test', extra='')
        with open(desk.config) as f:
            text = f.read()
        with open(desk.config, 'w') as f:
            f.write(text.replace('[imap]\n', '[imap]\nprocessed_folder = "Bad/Folder"\n', 1))
        sender = 'unmoved-%s@clinic.example' % token()
        raw, _ = make_mail(sender, '99291 and 99292 x2 critical care?', 'ICU, 105 minutes.\n')
        seed(desk.user, raw)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('move to Bad/Folder failed', r.stderr)
        self.assertEqual(len(desk.cases()), 1)
        self.assertEqual(len(imap_uids(desk.user, 'INBOX')), 1)
        self.assertEqual(len(sink_messages(sender)), 1)

        with open(desk.config, 'w') as f:
            f.write(text)
        r = desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(desk.cases()), 1)  # no second case
        self.assertEqual(imap_uids(desk.user, 'INBOX'), [])
        self.assertEqual(len(imap_uids(desk.user, 'Processed')), 1)
        self.assertEqual(len(sink_messages(sender)), 1)  # no second ack
        self.assertNotIn('duplicate', [e['kind'] for e in desk.case(desk.cases()[0]['ref'])['events']])


if __name__ == '__main__':
    unittest.main()
