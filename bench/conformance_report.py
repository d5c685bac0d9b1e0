#!/usr/bin/env python3
"""Conformance report: `casedesk parse --json` against shared/mime-corpus/expected.jsonl.

Usage (from the checkout root):
    python3 bench/conformance_report.py [CASEDESK_BINARY] [CORPUS_DIR]
        CASEDESK_BINARY  default build/daemon/casedesk
        CORPUS_DIR       default ../shared/mime-corpus

Compares non-lenient records with the rules of tests/unit/parsers/corpus_test.cpp: exact JSON
equality of from_addr, from_name, to, subject, message_id, in_reply_to, references, date (ISO 8601
string, so the same instant and offset), attachments ([{filename, content_type, size}]) and
body_source; body_text after whitespace collapsing where Python's body_source is text/plain (and,
for information only, text/html). Prints per-field agreement and every disagreement with a
one-line, classified reason. Known disagreements are explained in docs/parser-conformance.md.
Exit status: 0, or 1 when a field is under the issue's floor (98 % headers/attachments,
95 % body_text(plain)). Python 3 stdlib only.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIELDS = ['from_addr', 'from_name', 'to', 'subject', 'message_id', 'date', 'in_reply_to',
          'references', 'attachments', 'body_source', 'body_text(plain)', 'body_text(html,info)']
FLOORS = {f: 98.0 for f in FIELDS[:10]}
FLOORS['body_text(plain)'] = 95.0
_WS = re.compile(r'\s+')


def collapse(s):
    return _WS.sub(' ', s or '').strip()


def short(v, n=70):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[:n - 1] + '…'


def first_difference(a, b, n=40):
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return short(a[max(0, i - 10):i + n], n + 20), short(b[max(0, i - 10):i + n], n + 20)


def raw_headers(path):
    with open(path, 'rb') as f:
        data = f.read()
    end = data.find(b'\n\n')
    return data[:end if end >= 0 else len(data)].decode('latin-1')


def classify(field, ours, py, rec, out, path):
    """A short reason for one disagreement."""
    warnings = out.get('warnings', [])
    if field == 'from_name' or field == 'subject':
        if ours is not None and py is not None and ours.replace(' ', '') == py.replace(' ', ''):
            if re.search(r'\?=\s+=\?', raw_headers(path)):
                return 'Python keeps the folding blank between adjacent encoded words (RFC 2047 6.2: drop it)'
            return 'whitespace differs'
        return 'value differs'
    if field == 'attachments':
        ours_l, py_l = ours or [], py or []
        if any('uuencoded' in w for w in warnings) and len(ours_l) > len(py_l):
            return 'uuencoded block in the body listed as an attachment (Python does not detect uuencode)'
        if len(ours_l) != len(py_l):
            return f'attachment count differs ({len(ours_l)} vs {len(py_l)})'
        for a, b in zip(ours_l, py_l):
            if a.get('filename') != b.get('filename'):
                if b.get('filename') is None and a.get('filename'):
                    return ('filename given as an unquoted RFC 2047 word: Python drops it, we decode it '
                            f'({short(a.get("filename"), 40)})')
                return f'filename differs ({short(a.get("filename"), 30)} vs {short(b.get("filename"), 30)})'
            if a.get('content_type') != b.get('content_type'):
                return 'content type differs'
            if a.get('size') != b.get('size'):
                return 'decoded size differs'
        return 'attachments differ'
    if field.startswith('body_text'):
        if any('uuencoded' in w for w in warnings):
            return 'uuencoded block removed from the body (listed as an attachment)'
        o, p = first_difference(collapse(out.get('body_text')), rec.get('body_text') or '')
        if field.endswith('info)'):
            return f'HTML-to-text rendering differs (informational) at: ours {o} / python {p}'
        return f'text differs at: ours {o} / python {p}'
    if field == 'date':
        return 'date differs'
    return 'value differs'


def main(argv):
    binary = argv[1] if len(argv) > 1 else os.path.join(ROOT, 'build/daemon/casedesk')
    corpus = argv[2] if len(argv) > 2 else os.path.join(ROOT, '../shared/mime-corpus')
    corpus = os.path.abspath(corpus)
    expected_path = os.path.join(corpus, 'expected.jsonl')
    if not os.path.exists(binary):
        print(f'casedesk binary not found: {binary}', file=sys.stderr)
        return 2
    if not os.path.exists(expected_path):
        print(f'corpus expectations not found: {expected_path}', file=sys.stderr)
        return 2
    records = []
    with open(expected_path, encoding='utf-8') as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    strict = [r for r in records if not r.get('lenient')]
    files = [os.path.join(corpus, r['file']) for r in strict]

    ours = {}
    for i in range(0, len(files), 50):  # keep the command line short
        proc = subprocess.run([binary, 'parse', '--json', *files[i:i + 50]], capture_output=True)
        for line in proc.stdout.decode('utf-8', 'replace').splitlines():
            if line.strip():
                obj = json.loads(line)
                ours[os.path.basename(obj['file'])] = obj

    agree = {f: 0 for f in FIELDS}
    total = {f: 0 for f in FIELDS}
    disagreements = []
    for rec in strict:
        name = rec['file']
        out = ours.get(name)
        if out is None or out.get('error'):
            disagreements.append((name, '*', None, None, 'casedesk produced no record'))
            continue
        path = os.path.join(corpus, name)

        def tally(field, ok, o, p):
            total[field] += 1
            if ok:
                agree[field] += 1
            else:
                disagreements.append((name, field, o, p, classify(field, o, p, rec, out, path)))

        for field in ['from_addr', 'from_name', 'to', 'subject', 'message_id', 'in_reply_to', 'references',
                      'date', 'body_source']:
            tally(field, out.get(field) == rec.get(field), out.get(field), rec.get(field))
        atts = [{'filename': a.get('filename'), 'content_type': a.get('content_type'), 'size': a.get('size')}
                for a in out.get('attachments', [])]
        tally('attachments', atts == rec.get('attachments'), atts, rec.get('attachments'))
        if rec.get('body_source') in ('text/plain', 'text/html'):
            field = 'body_text(plain)' if rec['body_source'] == 'text/plain' else 'body_text(html,info)'
            o = collapse(out.get('body_text'))
            tally(field, o == rec.get('body_text'), o, rec.get('body_text'))

    print(f'casedesk: {binary}')
    print(f'corpus:   {corpus} ({len(records)} records, {len(strict)} non-lenient compared)')
    print()
    print(f'  {"field":<22} {"agree":>8}  {"n":>9}  floor')
    failed = False
    for f in FIELDS:
        pct = 100.0 * agree[f] / total[f] if total[f] else 100.0
        floor = FLOORS.get(f)
        mark = '' if floor is None else (f'>= {floor:.0f}%' + ('' if pct >= floor else '  BELOW'))
        failed |= floor is not None and pct < floor
        print(f'  {f:<22} {pct:7.2f}%  {agree[f]:>4}/{total[f]:<4}  {mark}')
    print()
    print(f'{len(disagreements)} disagreement(s):')
    for name, field, o, p, reason in disagreements:
        print(f'  {name}  [{field}]  ours={short(o, 60)}  python={short(p, 60)}  -- {reason}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
