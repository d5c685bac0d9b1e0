#!/usr/bin/env python3
"""Hit rate of the narrative suggestions (`casedesk parse --json --codes-db DB`, field `suggestions`).

For every mail of the shared case corpus (`$CASEDESK_SHARED/cases`, default /work/shared) and every
ICD-10-CM code the answer key lists for it, the code is removed from the mail's decoded text (subject,
text parts, attachments) and the mail handed to the built binary: a hit is the removed code among the
top-5 suggestions. Two modes, both printed by default:
  one  each code removed in turn, the mail's other codes left in (they are named, so they are never
       suggested: the removed one competes with the rest of the narrative)
  all  every ICD-10-CM code of the mail removed at once; each of them is a target
Also printed: top-1, the share whose 3-character category is in the top 5, and the pairs whose removal
did not take (the binary still extracted the code: counted as misses).

  python3 bench/suggest_hit_rate.py [--bin build/daemon/casedesk] [--db CODES.db] [--shared DIR]
                                   [--mode one|all|both] [--verbose]

Without --db a temporary database is made with `casedesk codes import` of `$SHARED/codesets`.
Exits 0 after printing, 2 when the corpus or code sets are absent (with a message), 1 on errors.
"""

import argparse
import email
import email.policy
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOP = 5


def code_pattern(forms):
    alts = sorted({f for f in forms if f}, key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(a) for a in alts) + r")(?![A-Za-z0-9])",
                      re.IGNORECASE)


def forms_of(entry):
    code = entry["code"]
    forms = set(entry.get("as_written") or [])
    forms.add(code)
    forms.add(code.replace(".", ""))
    return forms


def remove_codes(raw, pattern):
    """The mail with every match of `pattern` removed from its decoded text; its structure kept."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subject = msg.get("Subject")
    if subject is not None:
        new = pattern.sub("", str(subject))
        if new != str(subject):
            del msg["Subject"]
            msg["Subject"] = new
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        kwargs = {}
        if disposition:
            kwargs["disposition"] = disposition
        if filename:
            kwargs["filename"] = filename
        if part.get_content_maintype() == "text":
            try:
                text = part.get_content()
            except (LookupError, UnicodeError):
                continue
            new = pattern.sub("", text)
            if new != text:
                part.set_content(new, subtype=part.get_content_subtype(), charset="utf-8", **kwargs)
        elif ctype == "application/pdf":
            data = part.get_payload(decode=True) or b""
            bpat = re.compile(pattern.pattern.encode(), re.IGNORECASE)
            new = bpat.sub(b"", data)
            if new != data:
                part.set_content(new, maintype="application", subtype="pdf", **kwargs)
    return msg.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))


def run_parse(binary, db, files):
    out = subprocess.run([str(binary), "parse", "--json", "--codes-db", str(db), *map(str, files)],
                         capture_output=True, check=False)
    if out.returncode not in (0, 1):
        sys.exit(f"casedesk parse failed ({out.returncode}): {out.stderr.decode(errors='replace')[:500]}")
    rows = [json.loads(line) for line in out.stdout.decode().splitlines() if line.strip()]
    return {row["file"]: row for row in rows}


def evaluate(binary, db, cases_dir, answers, mode, work, verbose):
    jobs = []  # (mail, targets, path)
    for name, case in sorted(answers["cases"].items()):
        icd = [c for c in case["codes"] if c["system"] == "ICD-10-CM"]
        if not icd:
            continue
        raw = (cases_dir / name).read_bytes()
        groups = [[c] for c in icd] if mode == "one" else [icd]
        for i, group in enumerate(groups):
            forms = set()
            for c in group:
                forms |= forms_of(c)
            try:
                edited = remove_codes(raw, code_pattern(forms))
            except Exception as e:  # a mail Python's email cannot rewrite: reported, counted as misses
                print(f"  {name}: cannot rewrite ({e})", file=sys.stderr)
                edited = raw
            path = work / f"{mode}-{i:02d}-{name}"
            path.write_bytes(edited)
            jobs.append((name, [c["code"] for c in group], path))
    results = run_parse(binary, db, [p for _, _, p in jobs])
    n = hits = top1 = cat_hits = not_removed = 0
    for name, targets, path in jobs:
        row = results.get(str(path))
        if row is None:
            sys.exit(f"no output for {path}")
        if "suggestions" not in row:
            sys.exit("the output has no `suggestions` field: code sets not loaded, or a casedesk without suggestions")
        sugg = [s["code"] for s in row["suggestions"]][:TOP]
        extracted = {c["code"] for c in row["codes"] if c["system"] == "ICD-10-CM"}
        for code in targets:
            n += 1
            hit = code in sugg
            hits += hit
            top1 += bool(sugg) and sugg[0] == code
            cat_hits += any(s[:3] == code[:3] for s in sugg)
            if code in extracted:
                not_removed += 1
            if verbose:
                print(f"  {'HIT ' if hit else 'miss'} {name:50s} {code:9s} <- {' '.join(sugg)}")
    return n, hits, top1, cat_hits, not_removed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(REPO / "build" / "daemon" / "casedesk"))
    ap.add_argument("--db", help="code-set database (default: a temporary import of $SHARED/codesets)")
    ap.add_argument("--shared", default=os.environ.get("CASEDESK_SHARED", "/work/shared"))
    ap.add_argument("--mode", choices=["one", "all", "both"], default="both")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    shared = Path(args.shared)
    cases_dir = shared / "cases"
    if not (cases_dir / "answers.json").exists():
        print(f"suggest_hit_rate: no case corpus at {cases_dir} (set CASEDESK_SHARED or --shared); skipped")
        return 2
    binary = Path(args.bin)
    if not binary.exists():
        sys.exit(f"no casedesk binary at {binary} (build it, or pass --bin)")
    answers = json.loads((cases_dir / "answers.json").read_text())

    with tempfile.TemporaryDirectory(prefix="cdsuggest-") as tmp:
        work = Path(tmp)
        db = Path(args.db) if args.db else None
        if db is None:
            codesets = shared / "codesets"
            if not codesets.exists():
                print(f"suggest_hit_rate: no code sets at {codesets} and no --db; skipped")
                return 2
            db = work / "codes.db"
            r = subprocess.run([str(binary), "codes", "import", "--db", str(db), str(codesets)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"codes import failed: {r.stderr[:500]}")
        elif not db.exists():
            print(f"suggest_hit_rate: code database {db} not found; skipped")
            return 2
        modes = ["one", "all"] if args.mode == "both" else [args.mode]
        for mode in modes:
            n, hits, top1, cat, not_removed = evaluate(binary, db, cases_dir, answers, mode, work, args.verbose)
            rate = hits / n if n else 0.0
            print(f"suggest_hit_rate mode={mode}: top-{TOP} {rate:.3f} ({hits}/{n})  top-1 {top1 / n:.3f}  "
                  f"category in top-{TOP} {cat / n:.3f}  removal failed {not_removed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
