#!/usr/bin/python3
"""Copies the generated tables of one setting into docs/results/fedsaf-study.md, between the
markers <!-- generated NAME --> and <!-- end NAME -->: the groups table of compare.md and the
attention diagnostics (attention.md), with the time they were made.

    /usr/bin/python3 docs/studies/fedsaf_study_insert.py NAME DIR
"""
import re
import sys
import time
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "results" / "fedsaf-study.md"


def groups_table(compare_md: str) -> str:
    part = compare_md.split("## Groups", 1)[1].split("## Runs", 1)[0]
    return "\n".join(line for line in part.strip().splitlines() if line.startswith("|")) + "\n"


def main(name: str, folder: str) -> int:
    d = Path(folder).resolve()
    body = (f"Made {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from the run files then "
            f"present ([compare.md]({d.relative_to(DOC.parent)}/compare.md) has every run; the "
            f"curves: [accuracy]({d.relative_to(DOC.parent)}/compare_accuracy.png), "
            f"[mean per-client accuracy]({d.relative_to(DOC.parent)}/compare_client_accuracy.png), "
            f"[test loss]({d.relative_to(DOC.parent)}/compare_loss.png)).\n\n"
            + groups_table((d / "compare.md").read_text())
            + (f"\n![pooled accuracy, mean over seeds with min–max band]"
               f"({d.relative_to(DOC.parent)}/compare_accuracy.png)\n"
               if (d / "compare_accuracy.png").exists() else "")
            + "\nAttention (fedsaf and fedamp runs):\n\n"
            + (d / "attention.md").read_text())
    text = DOC.read_text()
    pat = re.compile(rf"(<!-- generated {re.escape(name)} -->\n).*?(<!-- end {re.escape(name)} -->)", re.S)
    if not pat.search(text):
        print(f"fedsaf_study_insert: no markers for {name} in {DOC}", file=sys.stderr)
        return 1
    DOC.write_text(pat.sub(lambda m: m.group(1) + body + m.group(2), text))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
