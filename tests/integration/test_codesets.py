"""casedesk codes import / lookup and parse --codes-db, with the CLI: small fixture files in
tests/fixtures/codesets, and (when present) the real files in ../shared/codesets."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import BIN, SOURCE

FIXTURES = os.path.join(SOURCE, 'tests', 'fixtures', 'codesets')
MALFORMED = os.path.join(SOURCE, 'tests', 'fixtures', 'codesets-malformed')
SHARED = os.path.normpath(os.path.join(SOURCE, '..', 'shared', 'codesets'))

MAIL = b"""From: Dana Whitfield <dana@pinecrest-pain.example>
To: desk@example.test
Subject: Facet RFA second level
Message-ID: <codesets-1@pinecrest-pain.example>
Date: Thu, 26 Nov 2026 08:02:11 -0500
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello,

we billed 64636 for the second level and J1885 x2 for the ketorolac.
Diagnosis M54.5. Also 20610-59 the same day.

Thanks, Dana
"""


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300, env=env)


class CodeSetCliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='casedesk-codesets-')
        self.db = os.path.join(self.dir, 'codes.db')

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def import_fixtures(self):
        r = run('codes', 'import', '--db', self.db, FIXTURES)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def lookup(self, code, expect_rc=0):
        r = run('codes', 'lookup', code, '--json', '--db', self.db)
        self.assertEqual(r.returncode, expect_rc, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def test_import_recognises_every_fixture_and_is_idempotent(self):
        r = self.import_fixtures()
        lines = [line.split() for line in r.stdout.splitlines()[:-1]]
        self.assertEqual(sorted(l[0] for l in lines), ['aoc', 'hcpcs', 'icd10cm', 'icd10pcs'])
        self.assertTrue(all(l[1] == 'imported' for l in lines), r.stdout)
        self.assertIn('1 file(s) not recognised', r.stdout)
        self.assertEqual(r.stderr, '')  # no progress bar without a terminal
        again = run('codes', 'import', '--db', self.db, FIXTURES)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertTrue(all(l.split()[1] == 'unchanged' for l in again.stdout.splitlines()[:-1]), again.stdout)
        listed = json.loads(run('codes', 'list', '--json', '--db', self.db).stdout)
        self.assertEqual(len(listed), 4)

    def test_malformed_file_is_reported_with_its_line(self):
        r = run('codes', 'import', '--db', self.db, os.path.join(MALFORMED, 'icd10cm-bad-line5.txt'))
        self.assertEqual(r.returncode, 65)
        self.assertIn('icd10cm-bad-line5.txt:5:', r.stderr)
        r = run('codes', 'import', '--db', self.db, os.path.join(FIXTURES, 'README.md'))
        self.assertEqual(r.returncode, 65)
        self.assertIn('not a recognised code-set file', r.stderr)

    def test_lookup(self):
        self.import_fixtures()
        header = self.lookup('M54.5')['results']
        self.assertEqual([(x['system'], x['status']) for x in header], [('ICD-10-CM', 'header')])
        self.assertIn('M54.50, M54.51, M54.59', header[0]['notes'][0])
        both = self.lookup('a0100')['results']
        self.assertEqual([(x['system'], x['status']) for x in both], [('ICD-10-CM', 'billable'), ('HCPCS', 'billable')])
        self.assertEqual(both[1]['info']['description'], 'Non-emergency transportation; taxi')
        term = self.lookup('M1000')['results']
        self.assertIn(('HCPCS', 'terminated'), [(x['system'], x['status']) for x in term])
        deleted = self.lookup('64623')['results'][0]
        self.assertEqual(deleted['status'], 'deleted')
        add_on = self.lookup('64636')['results'][0]
        self.assertEqual(add_on['status'], 'format-only')
        self.assertEqual(add_on['add_on']['primaries'], ['64635'])
        self.assertEqual(self.lookup('RT')['modifier']['code'], 'RT')
        missing = self.lookup('T78.40A', expect_rc=1)['results'][0]
        self.assertIn('T78.40XA', missing['notes'][0])
        self.lookup('hello', expect_rc=1)

    def test_parse_with_codes_db_adds_status_and_notes(self):
        self.import_fixtures()
        mail = os.path.join(self.dir, 'rfa.eml')
        with open(mail, 'wb') as f:
            f.write(MAIL)
        plain = json.loads(run('parse', '--json', mail).stdout)
        self.assertEqual(plain['notes'], [])
        self.assertTrue(all(c['status'] is None and c['notes'] == [] for c in plain['codes']))
        r = run('parse', '--json', '--codes-db', self.db, mail)
        self.assertEqual(r.returncode, 0, r.stderr)
        obj = json.loads(r.stdout)
        status = {c['code']: c['status'] for c in obj['codes']}
        self.assertEqual(status.get('M54.5'), 'header', obj['codes'])
        self.assertEqual(status.get('J1885'), 'billable', obj['codes'])
        self.assertEqual(status.get('64636'), 'format-only', obj['codes'])
        self.assertTrue(any('64636 is an add-on code' in n and '64635' in n for n in obj['notes']), obj['notes'])
        self.assertTrue(any('Modifier 59 on 20610' in n for n in obj['notes']), obj['notes'])
        # With --config: the code sets of the store's database.
        config = os.path.join(self.dir, 'casedesk.toml')
        with open(config, 'w') as f:
            f.write('[imap]\nurl = "imaps://127.0.0.1/INBOX"\nusername = "u"\npassword = "p"\n'
                    '[smtp]\nurl = "smtps://127.0.0.1"\nfrom = "desk@example.test"\n'
                    '[store]\npath = "codes.db"\n')
        r = run('parse', '--json', '--config', config, mail)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({c['code']: c['status'] for c in json.loads(r.stdout)['codes']}, status)
        r = run('parse', '--json', '--codes-db', os.path.join(self.dir, 'none.db'), mail)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('no code sets', r.stderr)

    def test_import_with_config_uses_the_store_database(self):
        config = os.path.join(self.dir, 'casedesk.toml')
        with open(config, 'w') as f:
            f.write('[imap]\nurl = "imaps://127.0.0.1/INBOX"\nusername = "u"\npassword = "p"\n'
                    '[smtp]\nurl = "smtps://127.0.0.1"\nfrom = "desk@example.test"\n'
                    '[store]\npath = "desk.db"\n')
        r = run('codes', 'import', '--config', config, os.path.join(FIXTURES, 'icd10cm'))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.dir, 'desk.db')))
        r = run('queue', 'list', '--config', config)  # the case store opens the shared file
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run('codes', 'lookup', 'M54.50', '--config', config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('billable', r.stdout)


class RealCodeSetsTest(unittest.TestCase):
    def test_import_real_code_sets(self):
        if not os.path.isdir(SHARED):
            self.skipTest('%s is absent: real code-set import not tested' % SHARED)
        d = tempfile.mkdtemp(prefix='casedesk-codesets-real-')
        try:
            db = os.path.join(d, 'codes.db')
            t0 = time.monotonic()
            r = run('codes', 'import', '--db', db, SHARED)
            elapsed = time.monotonic() - t0
            self.assertEqual(r.returncode, 0, r.stderr)
            rows = {}
            for line in r.stdout.splitlines()[:-1]:
                parts = line.split()
                rows[parts[0]] = int(parts[2])
            print('\nreal code sets imported in %.2f s:\n%s' % (elapsed, r.stdout), flush=True)
            self.assertEqual(rows, {'icd10cm': 74719, 'icd10pcs': 79115, 'hcpcs': 9006, 'aoc': 9000})
            t0 = time.monotonic()
            again = run('codes', 'import', '--db', db, SHARED)
            print('re-import (unchanged) in %.2f s' % (time.monotonic() - t0), flush=True)
            self.assertNotIn('imported ', again.stdout.replace('0 imported', ''))
            look = json.loads(run('codes', 'lookup', 'M54.5', '--json', '--db', db).stdout)
            self.assertIn('M54.50, M54.51, M54.59', look['results'][0]['notes'][0])
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    unittest.main()
