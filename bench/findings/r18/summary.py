"""Summarise hunt.py's results.jsonl files: per kind, exit codes of the clean runs (A, B) and the 10 %-flipped run (BF),
and the clean alarms per guard.   summary.py RESULTS.jsonl [...]"""
import collections
import json
import sys

EXIT = {"pass": 0, "fired": 1, "inconclusive": 1, "error": 2}
rows = [json.loads(line) for f in sys.argv[1:] for line in open(f)]
kinds = list(dict.fromkeys(r["kind"] for r in rows))
print("| case | seeds | clean A (verify A): pass/fired/inconcl. | clean B (vs A): pass/fired/inconcl. | 10 % flipped B: fired/inconcl./pass | clean alarms per guard |")
print("|---|---|---|---|---|---|")
for k in kinds:
    rs = [r for r in rows if r["kind"] == k]
    seeds = sorted({r["seed"] for r in rs})
    def cnt(run):
        c = collections.Counter(r["verdict"] for r in rs if r["run"] == run)
        return c
    a, b, bf = cnt("A"), cnt("B"), cnt("BF")
    alarms = collections.Counter(g for r in rs if r["run"] in ("A", "B") for g in r["fired"])
    errs = sum(1 for r in rs if r["verdict"] == "error")
    print(f"| {k} | {len(seeds)} | {a['pass']}/{a['fired']}/{a['inconclusive']} | {b['pass']}/{b['fired']}/{b['inconclusive']} | "
          f"{bf['fired']}/{bf['inconclusive']}/{bf['pass']} | {', '.join(f'{g} {n}/{2 * len(seeds)}' for g, n in alarms.most_common()) or '—'}"
          f"{f' (errors {errs})' if errs else ''} |")
