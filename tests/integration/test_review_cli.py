"""The consultants' CLI end to end: queue claim/note/answer/... on cases from a real Dovecot, the
answer mailed to the real SMTP sink threaded; users and submitters; the --json contracts."""
import json
import os
import pty
import select
import sqlite3
import subprocess
import time
import unittest

from harness import BIN, Desk, make_mail, seed, sink_messages, token, wait_until

CASE_FIELDS = {'ref', 'status', 'priority', 'owner', 'submitter', 'subject', 'received_at', 'due_at', 'codes',
               'ack_state', 'ack_reason', 'created_at', 'updated_at', 'lease_until', 'overdue', 'phi', 'suggestions'}
DETAIL_FIELDS = CASE_FIELDS | {'messages', 'events', 'notes', 'outbox'}
PASSWORD = 'c0rrect-horse-%s' % token()


class ReviewCli:
    """casedesk commands against one Desk, with the acting user in $CASEDESK_USER or --as."""

    def __init__(self, desk):
        self.desk = desk

    def run(self, *args, user=None, stdin=None):
        env = self.desk.env()
        env.pop('CASEDESK_USER', None)
        if user:
            env['CASEDESK_USER'] = user
        return subprocess.run([BIN, *args, '--config', self.desk.config], capture_output=True, text=True, env=env,
                              input=stdin, timeout=60)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, (args, r.returncode, r.stderr)
        return r

    def json(self, *args, **kw):
        return json.loads(self.ok(*args, '--json', **kw).stdout)

    def add_user(self, name, role='consultant'):
        return self.ok('user', 'add', name, '--email', '%s@desk.example' % name, '--role', role, '--password-stdin',
                       stdin=PASSWORD + '\n')


FAKE_EDITOR = r"""#!/bin/sh
# A consultant at the terminal: checks the case summary it was given, then writes TEXT above it.
[ -t 0 ] && [ -t 1 ] || exit 8
grep -q "^# $EXPECT_REF  " "$1" || exit 9
cp "$1" "$SEEN"
{ printf '%b' "$TEXT"; cat "$1"; } > "$1.new" && mv "$1.new" "$1"
"""


def run_on_terminal(args, env, timeout=30):
    """Runs args with stdin and stdout on a new pseudo-terminal (stderr piped): (rc, tty output, stderr)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    output = b''
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b''
                if not chunk and proc.poll() is not None:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        rc = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        return rc, output.decode(errors='replace'), proc.stderr.read().decode(errors='replace')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        os.close(master)


class EditorCli:
    """`queue note|answer|ask` with neither -m nor --file, on a terminal, with EDITOR a script."""

    def __init__(self, desk):
        self.desk = desk
        self.editor = os.path.join(desk.dir, 'fake-editor')
        self.seen = os.path.join(desk.dir, 'editor-saw.txt')
        with open(self.editor, 'w') as f:
            f.write(FAKE_EDITOR)
        os.chmod(self.editor, 0o700)

    def run(self, *args, ref, text):
        env = self.desk.env()
        env.pop('VISUAL', None)
        env.update(EDITOR=self.editor, EXPECT_REF=ref, TEXT=text, SEEN=self.seen, TMPDIR=self.desk.dir)
        return run_on_terminal([BIN, *args, '--config', self.desk.config], env)

    def leftovers(self):
        return [f for f in os.listdir(self.desk.dir) if f.startswith('casedesk-text-')]


class RunningDaemonTest(unittest.TestCase):
    """With the daemon running (IDLE, so it polls only every 5 min), an answer given with the CLI
    (another process) is mailed within seconds: the daemon watches for due replies."""

    def test_cli_answer_leaves_without_waiting_for_a_poll(self):
        desk = Desk('intake29@example.test')
        self.addCleanup(desk.cleanup)
        cli = ReviewCli(desk)
        cli.add_user('dana')
        t = token()
        sender = 'running-%s@clinic.example' % t
        raw, mid = make_mail(sender, 'Modifier 59 with 97140?', 'Manual therapy 97140-59 with 97110.\n')
        proc = subprocess.Popen([BIN, 'serve', '--config', desk.config], env=desk.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        seed(desk.user, raw)
        self.assertTrue(wait_until(lambda: len(sink_messages(sender)) == 1, timeout=30), 'no ack')
        [case] = desk.cases()
        # Let the passes that IDLE starts for our own FETCH/MOVE notifications (Dovecot reports
        # them ~0.5 s later) run out, so only the watch can send the answer.
        time.sleep(3)
        cli.ok('queue', 'claim', case['ref'], '--as', 'dana')
        cli.ok('queue', 'answer', case['ref'], '--file', '-', '--as', 'dana', stdin='Yes, with 59 on 97140.\n')
        answered_at = time.monotonic()
        self.assertTrue(wait_until(lambda: len(sink_messages(sender)) == 2, timeout=20),
                        'the answer did not leave while the daemon ran')
        waited = time.monotonic() - answered_at
        reply = sink_messages(sender)[1]
        self.assertEqual(reply['In-Reply-To'], mid)
        self.assertLess(waited, 15)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err[-2000:])
        self.assertIn('IDLE active', err)  # the 5-minute poll applied: the watch sent it


class AnswerFlowTest(unittest.TestCase):
    """seed -> serve --once -> claim, note, answer -> serve --once mails the answer in the thread."""

    def setUp(self):
        self.desk = Desk('intake26@example.test')
        self.addCleanup(self.desk.cleanup)
        self.cli = ReviewCli(self.desk)
        t = self.t = token()
        self.sender = 'coder-%s@clinic.example' % t
        self.reply_to = 'billing-%s@clinic.example' % t
        self.plain = 'solo-%s@clinic.example' % t
        self.raw_a, self.mid_a = make_mail(self.sender, 'RFA question 64635-50', 'Bilateral RFA, dx M47.816.\n',
                                           extra_headers=[('Reply-To', 'Billing <%s>' % self.reply_to),
                                                          ('References', '<older-%s@clinic.example>' % t)])
        self.raw_b, self.mid_b = make_mail(self.plain, 'Debridement 11042', 'Debridement 11042, dx L97.412.\n')
        seed(self.desk.user, self.raw_a)
        seed(self.desk.user, self.raw_b)
        r = self.desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        by_addr = {c['submitter']['addr']: c for c in self.desk.cases()}
        self.ref_a = by_addr[self.sender]['ref']
        self.ref_b = by_addr[self.plain]['ref']
        self.cli.add_user('alice')

    def test_claim_note_answer_reaches_the_submitter_threaded(self):
        cli, ref = self.cli, self.ref_a
        r = cli.ok('queue', 'claim', ref, '--as', 'alice')
        self.assertIn('in_review', r.stdout)
        case = cli.json('queue', 'show', ref)
        self.assertEqual((case['status'], case['owner']), ('in_review', 'alice'))
        self.assertIsNotNone(case['lease_until'])

        cli.ok('queue', 'note', ref, 'checked NCCI edits', '--as', 'alice')
        answer = 'Yes: 64635-50 and 64636-50 are billable together for %s.\nRegards\n' % self.t
        cli.ok('queue', 'answer', ref, '--file', '-', '--as', 'alice', stdin=answer)
        case = cli.json('queue', 'show', ref)
        self.assertEqual(case['status'], 'answered')
        self.assertEqual([n['text'] for n in case['notes']], ['checked NCCI edits'])
        self.assertEqual(case['notes'][0]['author'], 'alice')
        moves = [(e['actor'], e['from'], e['to']) for e in case['events'] if e['from'] or e['to']]
        self.assertIn(('alice', 'new', 'in_review'), moves)
        self.assertIn(('alice', 'in_review', 'answered'), moves)

        r = self.desk.serve_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(self.t, r.stderr)  # no answer text in the logs
        mails = sink_messages(self.reply_to)  # Reply-To wins over From
        self.assertEqual(len(mails), 2, [m['Subject'] for m in mails])  # the ack, then the answer
        self.assertEqual(sink_messages(self.sender), [])
        reply = mails[1]
        self.assertEqual(reply['In-Reply-To'], self.mid_a)
        refs = reply['References'].split()
        self.assertEqual(refs[0], '<older-%s@clinic.example>' % self.t)
        self.assertIn(self.mid_a, refs)
        self.assertIn('[%s]' % ref, reply['Subject'])
        self.assertIn(self.reply_to, reply['To'])
        self.assertIn(self.t, reply.get_body(('plain',)).get_content())
        sent = [o for o in cli.json('queue', 'show', ref)['outbox'] if o['kind'] == 'answer']
        self.assertEqual([(o['state'], o['message_id']) for o in sent], [('sent', reply['Message-ID'])])

    def test_answer_from_a_file_by_casedesk_user_goes_to_from(self):
        cli, ref = self.cli, self.ref_b
        cli.ok('queue', 'claim', ref, user='alice')  # $CASEDESK_USER
        path = os.path.join(self.desk.dir, 'answer.txt')
        with open(path, 'w') as f:
            f.write('Use 11042 once per session; %s\n' % self.t)
        cli.ok('queue', 'answer', ref, '--file', path, user='alice')
        self.assertEqual(self.desk.serve_once().returncode, 0)
        mails = sink_messages(self.plain)
        self.assertEqual(len(mails), 2, [m['Subject'] for m in mails])
        self.assertEqual(mails[1]['In-Reply-To'], self.mid_b)
        self.assertIn(self.mid_b, mails[1]['References'])
        self.assertIn('[%s]' % ref, mails[1]['Subject'])

    def test_ask_and_reject_queue_their_replies(self):
        cli = self.cli
        cli.ok('queue', 'claim', self.ref_b, '--as', 'alice')
        cli.ok('queue', 'ask', self.ref_b, '--file', '-', '--as', 'alice', stdin='Which side, %s?\n' % self.t)
        self.assertEqual(cli.json('queue', 'show', self.ref_b)['status'], 'waiting_on_submitter')
        cli.ok('queue', 'reject', self.ref_a, '--reason', 'out of scope', '--as', 'alice')
        case = cli.json('queue', 'show', self.ref_a)
        self.assertEqual(case['status'], 'rejected')
        self.assertIn('rejected', [o['kind'] for o in case['outbox']])
        self.assertEqual(self.desk.serve_once().returncode, 0)
        self.assertTrue(wait_until(lambda: len(sink_messages(self.plain)) == 2, timeout=5))
        self.assertIn(self.t, sink_messages(self.plain)[1].get_body(('plain',)).get_content())
        self.assertEqual(len(sink_messages(self.reply_to)), 2)

    def test_answer_written_in_the_editor_is_mailed(self):
        cli, ref = self.cli, self.ref_b
        cli.ok('queue', 'claim', ref, '--as', 'alice')
        editor = EditorCli(self.desk)
        rc, tty, err = editor.run('queue', 'answer', ref, '--as', 'alice', ref=ref,
                                  text='Bill 11042 once, %s.\\n\\nRegards\\n' % self.t)
        self.assertEqual(rc, 0, (tty, err))
        self.assertIn('in_review -> answered', tty)
        with open(editor.seen) as f:
            seen = f.read()
        self.assertTrue(seen.startswith('\n# Write your answer to %s' % ref), seen)
        self.assertIn('# Subject:   Debridement 11042', seen)
        self.assertEqual(editor.leftovers(), [])  # the temporary file is gone
        self.assertEqual(self.desk.serve_once().returncode, 0)
        mails = sink_messages(self.plain)
        self.assertEqual(len(mails), 2, [m['Subject'] for m in mails])
        body = mails[1].get_body(('plain',)).get_content()
        self.assertIn('Bill 11042 once, %s.' % self.t, body)
        self.assertNotIn('# Write your answer', body)


class WorkflowCliTest(unittest.TestCase):
    """Refusals, exit codes, filters, priority, search and the JSON contracts."""

    @classmethod
    def setUpClass(cls):
        cls.desk = Desk('intake27@example.test', extra='[review]\nsla = { urgent = "1s" }\n')
        t = cls.t = token()
        cls.word = 'zygapophyseal%s' % t  # one mail's unique word
        cls.sender_a = 'a-%s@clinic.example' % t
        cls.sender_b = 'b-%s@clinic.example' % t
        seed(cls.desk.user, make_mail(cls.sender_a, 'Facet injection', 'Facet %s, 64490 and 64491.\n' % cls.word)[0])
        seed(cls.desk.user, make_mail(cls.sender_b, 'Wound care', 'Debridement 97597, dx L89.154.\n')[0])
        r = cls.desk.serve_once()
        assert r.returncode == 0, r.stderr
        by_addr = {c['submitter']['addr']: c['ref'] for c in cls.desk.cases()}
        cls.ref_a, cls.ref_b = by_addr[cls.sender_a], by_addr[cls.sender_b]
        cls.cli = ReviewCli(cls.desk)
        for name, role in (('carol', 'consultant'), ('dave', 'consultant'), ('root', 'admin')):
            cls.cli.add_user(name, role)

    @classmethod
    def tearDownClass(cls):
        cls.desk.cleanup()

    def refused(self, *args, code=None, **kw):
        r = self.cli.run(*args, **kw)
        self.assertNotEqual(r.returncode, 0, (args, r.stdout))
        if code is not None:
            self.assertEqual(r.returncode, code, (args, r.stderr))
        self.assertTrue(r.stderr.strip(), args)
        self.assertNotIn('terminate', r.stderr)
        return r

    def test_illegal_transitions_are_refused_with_a_message(self):
        cli, ref = self.cli, self.ref_a
        self.refused('queue', 'close', ref, '--as', 'carol', code=3)    # new -> closed
        self.refused('queue', 'release', ref, '--as', 'carol', code=3)  # not in review
        self.refused('queue', 'reopen', ref, '--as', 'carol', code=3)
        cli.ok('queue', 'claim', ref, '--as', 'carol')
        r = self.refused('queue', 'claim', ref, '--as', 'dave', code=3)  # carol's lease is live
        self.assertIn('refused', r.stderr)
        self.refused('queue', 'answer', ref, '--file', '-', '--as', 'dave', stdin='mine now\n', code=3)
        self.refused('queue', 'release', ref, '--as', 'dave', code=3)
        self.assertEqual(cli.json('queue', 'show', ref)['owner'], 'carol')  # nothing changed
        cli.ok('queue', 'assign', ref, 'dave', '--as', 'root')
        case = cli.json('queue', 'show', ref)
        self.assertEqual((case['status'], case['owner']), ('in_review', 'dave'))
        cli.ok('queue', 'answer', ref, '--file', '-', '--as', 'dave', stdin='Yes, %s\n' % self.t)
        self.refused('queue', 'claim', ref, '--as', 'carol', code=3)  # answered
        cli.ok('queue', 'close', ref, '--as', 'carol')
        self.refused('queue', 'close', ref, '--as', 'carol', code=3)
        cli.ok('queue', 'reopen', ref, '--as', 'carol')
        self.assertEqual(cli.json('queue', 'show', ref)['status'], 'new')
        cli.ok('queue', 'reject', ref, '--reason', 'duplicate question', '--as', 'carol')
        self.refused('queue', 'reject', ref, '--reason', 'again', '--as', 'carol', code=3)
        self.refused('queue', 'claim', ref, '--as', 'carol', code=3)
        events = cli.json('queue', 'show', ref)['events']
        path = [e['to'] for e in events if e['to']]
        self.assertEqual(path[-5:], ['in_review', 'answered', 'closed', 'new', 'rejected'])
        self.assertIn('root', [e['actor'] for e in events if e['kind'].startswith('assign')])

    def test_usage_errors_and_unknown_names(self):
        r = self.refused('queue', 'claim', self.ref_b, code=64)  # no --as, no $CASEDESK_USER
        self.assertIn('--as', r.stderr)
        self.refused('queue', 'claim', self.ref_b, '--as', 'nobody', code=1)
        self.refused('queue', 'claim', 'CD-999999', '--as', 'carol', code=1)
        self.refused('queue', 'show', 'CD-999999', code=1)
        self.refused('queue', 'assign', self.ref_b, 'nobody', '--as', 'root', code=1)
        self.refused('queue', 'priority', self.ref_b, 'asap', '--as', 'carol', code=64)
        self.refused('queue', 'list', '--status', 'pending', code=64)
        self.refused('queue', 'list', '--mine', code=64)
        self.refused('queue', 'answer', self.ref_b, '--file', '/nonexistent/answer.txt', '--as', 'carol', code=66)
        self.refused('queue', 'note', self.ref_b, '  ', '--as', 'carol', code=64)
        self.assertEqual(self.cli.json('queue', 'show', self.ref_b)['status'], 'new')

    def test_note_by_repeated_messages_is_paragraphs(self):
        cli, ref = self.cli, self.ref_b
        cli.ok('queue', 'note', ref, '-m', 'first %s' % self.t, '-m', 'second', '--as', 'carol')
        notes = cli.json('queue', 'show', ref)['notes']
        self.assertIn('first %s\n\nsecond' % self.t, [n['text'] for n in notes])

    def test_text_without_a_terminal_is_a_usage_error_at_once(self):
        for action in ('note', 'answer', 'ask'):
            started = time.monotonic()
            r = subprocess.run([BIN, 'queue', action, self.ref_b, '--as', 'carol', '--config', self.desk.config],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, env=self.desk.env(), timeout=20)
            self.assertEqual(r.returncode, 64, (action, r.stderr))
            self.assertLess(time.monotonic() - started, 5)
            self.assertTrue(r.stderr.startswith('casedesk: queue %s: no text' % action), r.stderr)
        self.refused('queue', 'note', self.ref_b, '-m', '', '--as', 'carol', code=64)
        self.refused('queue', 'note', self.ref_b, '-m', 'a', '--file', '-', '--as', 'carol', code=64, stdin='b\n')
        self.refused('queue', 'note', self.ref_b, 'words', '-m', 'a', '--as', 'carol', code=64)
        self.refused('queue', 'answer', self.ref_b, '--file', '-', '--as', 'carol', code=64, stdin='\n\n')

    def test_note_written_in_the_editor_and_an_empty_one_aborts(self):
        cli, ref = self.cli, self.ref_b
        editor = EditorCli(self.desk)
        before = len(cli.json('queue', 'show', ref)['notes'])
        rc, tty, err = editor.run('queue', 'note', ref, '--as', 'carol', ref=ref, text='\\n\\n')
        self.assertEqual((rc, err), (64, 'casedesk: aborting: empty message\n'), tty)
        self.assertEqual(len(cli.json('queue', 'show', ref)['notes']), before)
        rc, tty, err = editor.run('queue', 'note', ref, '--as', 'carol', ref=ref,
                                  text='Edited note %s\\n\\n# not kept\\nsecond paragraph\\n' % self.t)
        self.assertEqual(rc, 0, (tty, err))
        texts = [n['text'] for n in cli.json('queue', 'show', ref)['notes']]
        self.assertIn('Edited note %s\n\nsecond paragraph\n' % self.t, texts)
        with open(editor.seen) as f:
            self.assertIn('# Write your internal note on %s' % ref, f.read())
        self.assertEqual(editor.leftovers(), [])

    def test_list_filters_priority_and_overdue(self):
        cli, ref = self.cli, self.ref_b
        cli.ok('queue', 'claim', ref, '--as', 'dave')
        for mine in (cli.json('queue', 'list', '--mine', '--as', 'dave'), cli.json('queue', 'list', '--mine', user='dave')):
            self.assertIn(ref, [c['ref'] for c in mine])
            self.assertEqual({c['owner'] for c in mine}, {'dave'})
        self.assertNotIn(ref, [c['ref'] for c in cli.json('queue', 'list', '--mine', '--as', 'carol')])
        self.assertIn(ref, [c['ref'] for c in cli.json('queue', 'list', '--status', 'in_review')])
        self.assertNotIn(ref, [c['ref'] for c in cli.json('queue', 'list', '--status', 'new')])
        r = cli.ok('queue', 'priority', ref, 'urgent', '--as', 'dave')
        self.assertIn('urgent', r.stdout)
        self.assertEqual([c['ref'] for c in cli.json('queue', 'list', '--priority', 'urgent')], [ref])
        time.sleep(2.1)  # [review] sla urgent = 1s
        overdue = cli.json('queue', 'list', '--overdue')
        self.assertEqual([c['ref'] for c in overdue], [ref])
        self.assertTrue(overdue[0]['overdue'])
        self.assertEqual(cli.json('queue', 'list')[0]['ref'], ref)  # overdue sorts first
        text = cli.ok('queue', 'list').stdout
        line = next(l for l in text.splitlines() if l.startswith(ref))
        for word in ('in_review', 'urgent', 'dave', 'OVERDUE'):
            self.assertIn(word, line)
        show = cli.ok('queue', 'show', ref).stdout
        for word in ('in_review', 'urgent', 'dave', 'OVERDUE', '97597', 'Events:'):
            self.assertIn(word, show)
        cli.ok('queue', 'release', ref, '--as', 'dave')
        cli.ok('queue', 'priority', ref, 'normal', '--as', 'dave')

    def test_json_contract_fields(self):
        cases = self.cli.json('queue', 'list')
        self.assertGreaterEqual(len(cases), 2)
        for c in cases:
            self.assertTrue(CASE_FIELDS <= set(c), CASE_FIELDS - set(c))
            self.assertEqual(set(c['submitter']), {'addr', 'name'})
            self.assertNotIn('messages', c)
            self.assertIn(c['priority'], ('low', 'normal', 'high', 'urgent'))
        detail = self.cli.json('queue', 'show', self.ref_b)
        self.assertTrue(DETAIL_FIELDS <= set(detail), DETAIL_FIELDS - set(detail))
        self.assertEqual(detail['messages'][0]['direction'], 'in')
        self.assertIn('97597', [c['code'] for c in detail['codes']])
        self.assertTrue(detail['due_at'] > detail['received_at'])

    def test_search_by_code_and_by_word(self):
        by_word = self.cli.json('queue', 'search', self.word)
        self.assertEqual([c['ref'] for c in by_word], [self.ref_a])
        self.assertTrue(CASE_FIELDS <= set(by_word[0]))
        self.assertIn(self.ref_b, [c['ref'] for c in self.cli.json('queue', 'search', '97597')])
        self.assertIn(self.ref_a, [c['ref'] for c in self.cli.json('queue', 'search', '64491')])
        self.assertEqual(self.cli.json('queue', 'search', 'nosuchword%s' % self.t), [])
        r = self.cli.ok('queue', 'search', 'facet', self.word)  # several words, unquoted
        self.assertIn(self.ref_a, r.stdout)
        self.cli.ok('queue', 'search', '"unbalanced AND (')  # user text is not FTS syntax

    def test_users_never_show_password_hashes(self):
        cli = self.cli
        users = cli.json('user', 'list')
        self.assertEqual({u['name']: u['role'] for u in users if u['name'] in ('carol', 'root')},
                         {'carol': 'consultant', 'root': 'admin'})
        for u in users:
            self.assertEqual(set(u), {'name', 'email', 'role', 'created_at'})
        for out in (cli.ok('user', 'list').stdout, cli.ok('user', 'list', '--json').stdout):
            self.assertNotIn('argon2', out)
            self.assertNotIn(PASSWORD, out)
        r = self.refused('user', 'add', 'carol', '--email', 'c@desk.example', '--password-stdin', stdin='x\n', code=3)
        self.assertIn('exists', r.stderr)
        self.refused('user', 'add', 'eve', '--email', 'eve@desk.example', '--password-stdin', stdin='\n', code=64)
        self.refused('user', 'add', 'eve', '--email', 'eve@desk.example', '--role', 'root', '--password-stdin',
                     stdin='pw\n', code=64)
        self.refused('user', 'add', 'eve', '--email', 'eve@desk.example', stdin='pw\n')  # --password-stdin needed
        self.refused('user', 'passwd', 'nobody', '--password-stdin', stdin='pw\n', code=1)
        cli.ok('user', 'passwd', 'dave', '--password-stdin', stdin='n3w-%s\n' % self.t)
        # The store keeps argon2id hashes, never the password.
        with sqlite3.connect(os.path.join(self.desk.dir, 'casedesk.db')) as db:
            dump = '\n'.join(db.iterdump())
        self.assertNotIn(PASSWORD, dump)
        self.assertNotIn('n3w-%s' % self.t, dump)
        self.assertGreaterEqual(dump.count('$argon2id$'), 3)

    def test_submitters_add_list_remove(self):
        cli, t = self.cli, self.t
        addr = 'Coder-%s@Clinic.Example' % t
        cli.ok('submitter', 'add', addr, '--name', 'Dana Coder', '--quota', '5')
        cli.ok('submitter', 'add', '@partner-%s.example' % t)
        listed = {s['pattern']: s for s in cli.json('submitter', 'list')}
        self.assertEqual(listed[addr.lower()]['name'], 'Dana Coder')
        self.assertEqual(listed[addr.lower()]['quota'], 5)
        self.assertEqual(listed[addr.lower()]['cases_this_month'], 0)
        self.assertIn('@partner-%s.example' % t, listed)
        self.assertIn(addr.lower(), cli.ok('submitter', 'list').stdout)
        cli.ok('submitter', 'remove', addr)
        self.assertNotIn(addr.lower(), [s['pattern'] for s in cli.json('submitter', 'list')])
        self.refused('submitter', 'remove', addr, code=1)
        self.refused('submitter', 'add', 'not-an-address', code=64)
        self.refused('submitter', 'add', 'x@y.example', '--quota', '-1', code=64)


if __name__ == '__main__':
    unittest.main()
