"""The casedesk CLI contracts: parse --json fields, exit codes, check-config."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import BIN, SOURCE

EXAMPLES = os.path.join(SOURCE, 'examples', 'mail')
FIELDS = {'file', 'message_id', 'from_addr', 'from_name', 'to', 'subject', 'date', 'in_reply_to', 'references',
          'auto_submitted', 'precedence', 'automated', 'body_source', 'body_text', 'reply_text', 'attachments', 'codes',
          'case_ref', 'warnings', 'error', 'notes'}


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, env=env)


class ParseTest(unittest.TestCase):
    def test_parse_json_prints_one_object_per_file_with_every_field(self):
        files = sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES) if f.endswith('.eml'))
        r = run('parse', '--json', *files)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(files))
        by_name = {}
        for line in lines:
            obj = json.loads(line)
            self.assertTrue(FIELDS <= set(obj), FIELDS - set(obj))  # fields are added over time, never renamed
            self.assertIsNone(obj['error'])
            by_name[os.path.basename(obj['file'])] = obj
        rfa = by_name['01-bilateral-rfa.eml']
        self.assertEqual(rfa['message_id'], '<rfa-8812@pinecrest-pain.example>')
        self.assertEqual(rfa['from_name'], 'Dana Whitfield')
        self.assertEqual(rfa['date'], '2026-11-26T08:02:11-05:00')
        codes = {c['code']: c for c in rfa['codes']}
        self.assertEqual(codes['64635']['modifiers'], ['50'])
        self.assertEqual(codes['64635']['system'], 'CPT')
        self.assertEqual(codes['M47.816']['system'], 'ICD-10-CM')
        latin = by_name['03-debridement-latin1.eml']
        self.assertEqual(latin['from_name'], 'Renée Lefèvre')
        self.assertEqual(latin['subject'], 'Débridement 11042 + 11045 and skin substitute')
        self.assertIn('débridement', latin['body_text'])
        dme = by_name['04-dme-cpap-attachment.eml']
        self.assertEqual(dme['attachments'], [{'filename': 'supplies.txt', 'content_type': 'text/plain',
                                               'size': dme['attachments'][0]['size']}])
        self.assertIn('attachment', {f for c in dme['codes'] for f in c['found_in']})
        ooo = by_name['06-out-of-office.eml']
        self.assertTrue(ooo['automated'])
        self.assertEqual(ooo['auto_submitted'], 'auto-replied')

    def test_unreadable_file_gets_an_error_and_the_run_goes_on(self):
        ok = os.path.join(EXAMPLES, '01-bilateral-rfa.eml')
        r = run('parse', '--json', '/nonexistent/x.eml', ok)
        self.assertNotEqual(r.returncode, 0)
        first, second = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertIn('x.eml', first['error'])
        self.assertIsNone(second['error'])

    def test_case_ref_uses_the_configured_prefix(self):
        with tempfile.TemporaryDirectory() as d:
            mail = os.path.join(d, 'm.eml')
            with open(mail, 'w') as f:
                f.write('From: a@b.example\nSubject: Re: question [QX-000042] and [CD-000001]\n\nhi\n')
            cfg = os.path.join(d, 'c.toml')
            with open(cfg, 'w') as f:
                f.write('[imap]\nurl = "imaps://127.0.0.1/INBOX"\nusername = "u"\npassword_env = "UNSET_X"\n'
                        '[smtp]\nurl = "smtp://127.0.0.1:2525"\nfrom = "d@example.test"\n[desk]\ncase_prefix = "QX"\n')
            self.assertEqual(json.loads(run('parse', '--json', mail).stdout)['case_ref'], 'CD-000001')
            r = run('parse', '--json', '--config', cfg, mail)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)['case_ref'], 'QX-000042')


class ConfigCliTest(unittest.TestCase):
    def test_example_config_is_valid(self):
        env = dict(os.environ, CASEDESK_IMAP_PASSWORD='x')
        r = run('check-config', os.path.join(SOURCE, 'config', 'casedesk.example.toml'), env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_every_problem_is_reported_with_its_line(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, 'bad.toml')
            with open(cfg, 'w') as f:
                f.write('[imap]\nurl = "ftp://x/INBOX"\nusername = 5\npassword = "p"\npoll_interval = "soon"\n'
                        '[smtp]\nurl = "smtp://mail.example.com"\nfrom = "x@y.example\\r\\nBcc: z@q"\n')
            r = run('check-config', cfg)
            self.assertEqual(r.returncode, 78)
            lines = r.stderr.strip().splitlines()
            self.assertGreaterEqual(len(lines), 4, r.stderr)
            for needle, line in (('imap.url', 2), ('imap.username', 3), ('imap.poll_interval', 5), ('smtp.from', 8)):
                self.assertTrue(any(l.startswith('casedesk: %s:%d:' % (cfg, line)) and needle in l for l in lines),
                                (needle, r.stderr))

    def test_store_commands_do_not_need_the_mail_password(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, 'c.toml')
            with open(cfg, 'w') as f:
                f.write('[imap]\nurl = "imaps://127.0.0.1/INBOX"\nusername = "u"\npassword_env = "SURELY_UNSET_X"\n'
                        '[smtp]\nurl = "smtp://127.0.0.1:2525"\nfrom = "d@example.test"\n')
            r = run('queue', 'list', '--json', '--config', cfg)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), [])
            r = run('queue', 'show', 'CD-000001', '--config', cfg)
            self.assertEqual(r.returncode, 1)
            r = run('serve', '--once', '--config', cfg)
            self.assertEqual(r.returncode, 78)
            self.assertIn('SURELY_UNSET_X', r.stderr)


class UsageErrorTest(unittest.TestCase):
    """Usage errors exit 64 (EX_USAGE) and name the unknown word with the closest command or option;
    --help stays 0; every error line starts with 'casedesk:'."""

    def usage_error(self, *args):
        r = run(*args)
        self.assertEqual(r.returncode, 64, (args, r.stdout, r.stderr))
        self.assertEqual(r.stdout, '')
        lines = r.stderr.splitlines()
        self.assertTrue(lines, args)
        for line in lines:
            self.assertTrue(line.startswith('casedesk: '), (args, line))
        return lines

    def test_unknown_command_is_named_with_the_closest_one(self):
        self.assertEqual(self.usage_error('bogus')[0], "casedesk: unknown command 'bogus'")
        self.assertEqual(self.usage_error('queue', 'lst')[0], "casedesk: unknown command 'lst'; did you mean 'list'?")
        lines = self.usage_error('queue', 'lst', '--config', '/nonexistent/casedesk.toml')
        self.assertEqual(lines[0], "casedesk: unknown command 'lst'; did you mean 'list'?")
        self.assertEqual(lines[1], "casedesk: see 'casedesk queue --help'")
        self.assertEqual(self.usage_error('quarantine', 'retyr', '1')[0],
                         "casedesk: unknown command 'retyr'; did you mean 'retry'?")

    def test_unknown_option_is_named_with_the_closest_one(self):
        self.assertEqual(self.usage_error('queue', 'list', '--jsn')[0],
                         "casedesk: unknown option '--jsn'; did you mean '--json'?")
        self.assertEqual(self.usage_error('status', '--bogus')[0], "casedesk: unknown option '--bogus'")

    def test_missing_and_extra_arguments(self):
        self.assertEqual(self.usage_error('queue', 'show')[0], 'casedesk: queue show: ref is required')
        self.assertEqual(self.usage_error('queue', 'show', 'CD-000001', 'CD-000002')[0],
                         "casedesk: unexpected argument 'CD-000002'")
        self.assertIn('--status', self.usage_error('queue', 'list', '--status')[0])
        self.assertIn('--limit', self.usage_error('queue', 'list', '--limit', 'many')[0])
        self.assertIn('a command is required', self.usage_error()[0])
        self.assertIn('a command after', self.usage_error('queue')[0])
        self.usage_error('queue', 'note', 'CD-000001', '-m')  # -m needs its text

    def test_help_and_version_exit_zero(self):
        for args in (('--help',), ('queue', '--help'), ('queue', 'answer', '--help'), ('--version',)):
            r = run(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertTrue(r.stdout.strip(), args)
        self.assertIn('-m,--message', run('queue', 'answer', '--help').stdout)

    def test_store_errors_name_the_program_too(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, 'c.toml')
            with open(cfg, 'w') as f:
                f.write('[imap]\nurl = "imaps://127.0.0.1/INBOX"\nusername = "u"\npassword_env = "SURELY_UNSET_X"\n'
                        '[smtp]\nurl = "smtp://127.0.0.1:2525"\nfrom = "d@example.test"\n')
            r = run('queue', 'show', 'CD-000001', '--config', cfg)
            self.assertEqual((r.returncode, r.stderr), (1, 'casedesk: no case CD-000001\n'))
            r = run('quarantine', 'retry', '42', '--config', cfg)
            self.assertEqual((r.returncode, r.stderr), (1, 'casedesk: no quarantined mail 42\n'))
            r = run('codes', 'lookup', 'ZZZ', '--db', os.path.join(d, 'codes.db'))
            self.assertEqual((r.returncode, r.stderr), (1, 'casedesk: ZZZ: not a code of any known format\n'))


if __name__ == '__main__':
    unittest.main()
