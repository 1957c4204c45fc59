"""Drift simulation over many seeds: false alarms on clean days, detection on the poisoned day (issue 11).

    python bench/drift.py --seeds 100-119          # the reported (held-out) seeds
    python bench/drift.py --seeds 0-19 --out /tmp/dev.md   # the development seeds
    python bench/drift.py --seeds 200-219 --in-memory --rows 400 --share-sd 0.08 --drift 0.06   # the statistics only, another day plan

``--in-memory`` replays the same days (the same generator draws, poisoning and reference split
as `simulate`) through the same statistics and guards (``drift.fit_reference``, ``day_stats``,
``run_guards``) without the store, manifests and records: the statistical cells in a fraction
of the time. It cannot run the at-rest vector (that is the manifest's job, not a statistic).

Each scenario runs `labelguard simulate` (14 days, poison day 10, default variation and benign
drift) as plain functions (the flow adds only Prefect overhead, not statistics). Thresholds are
not tuned here: alpha 0.05 over 30 days of checks, Bonferroni, fixed in labelguard.tasks.drift.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_result  # noqa: E402

SCENARIOS = [  # (attack, rate, vector): the done-when cells
    ("random", 0.20, "source"),
    ("targeted", 0.05, "source"),
    ("random", 0.02, "at-rest"),
]


def seeds_arg(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="100-119", help="Seed range lo-hi (inclusive).")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--poison-day", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "drift.md")
    ap.add_argument("--scenarios", default=None, help="Comma-separated indexes into SCENARIOS (default: all).")
    ap.add_argument("--jsonl", type=Path, help="Also append one JSON line per run here.")
    ap.add_argument("--summarize", type=Path, nargs="+", help="Only summarize the JSON lines of earlier runs (several processes' shares of the seeds).")
    ap.add_argument("--minutes", type=float, default=None, help="With --summarize: the wall time to quote.")
    ap.add_argument("--in-memory", action="store_true", help="Statistics only: replay the days without the store (no at-rest scenario).")
    ap.add_argument("--rows", type=int, default=None, help="Mean rows a day (DayPlan.rows).")
    ap.add_argument("--share-sd", type=float, default=None, help="Day-to-day sd of the positive share (DayPlan.share_sd).")
    ap.add_argument("--drift", type=float, default=None, help="Benign drift of the feature means, within-class sd a day (DayPlan.drift_per_day).")
    args = ap.parse_args()
    from labelguard.tasks.simulate import DayPlan

    knobs = {"rows": args.rows, "share_sd": args.share_sd, "drift_per_day": args.drift}
    plan = DayPlan(**{k: v for k, v in knobs.items() if v is not None})
    args.plan = plan
    if args.summarize:
        unique = {}
        for path in args.summarize:  # a cell run by two processes counts once
            for line in path.read_text().splitlines():
                if line.strip():
                    r = json.loads(line)
                    unique[(r["attack"], r["rate"], r["vector"], r["seed"])] = r
        rows = list(unique.values())
        seeds = sorted({r["seed"] for r in rows})
        return summarize(rows, f"{seeds[0]}-{seeds[-1]}", len(seeds), args, (args.minutes or 0) * 60)
    from labelguard.tasks.simulate import simulate

    seeds = seeds_arg(args.seeds)
    rows = []
    started = time.monotonic()
    chosen = [SCENARIOS[int(i)] for i in args.scenarios.split(",")] if args.scenarios else SCENARIOS
    if args.in_memory:
        chosen = [c for c in chosen if c[2] != "at-rest"]
    for attack, rate, vector in chosen:
        for seed in seeds:
            if args.in_memory:
                res = replay(seed, attack, rate, vector, days=args.days, poison_day=args.poison_day, plan=plan)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    res = simulate(Path(tmp) / "sim", days=args.days, poison_day=args.poison_day, attack=attack, rate=rate, vector=vector, seed=seed,
                                   plan=plan, plot=False)
            s = res["summary"]
            clean_z = {n: max([r["guards"][n]["z"] for r in res["records"] if not r["poisoned"] and r["guards"][n].get("z") is not None] or [0.0])
                       for n in ("label_prior", "class_conditional", "noise_rate")}
            rows.append({"attack": attack, "rate": rate, "vector": vector, "seed": seed, **s, "max_clean_z": clean_z})
            print(json.dumps(rows[-1]), flush=True)
            if args.jsonl:
                with args.jsonl.open("a") as fh:
                    fh.write(json.dumps(rows[-1]) + "\n")
    summarize(rows, args.seeds, len(seeds), args, time.monotonic() - started)


def replay(seed: int, attack: str, rate: float, vector: str, *, days: int, poison_day: int, plan) -> dict:
    """`simulate`'s days and checks in memory: the same draws, poisoning and reference, the same statistics and guards."""
    from datetime import date as Date, timedelta

    import numpy as np

    from labelguard.tasks import drift
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.simulate import START, _poison, make_day, summarize as sim_summary
    from labelguard.tasks.sources import split_holdout

    spec = ColumnSpec(positive_class=1, domain="reviews")
    rng = np.random.default_rng([seed, 0xD21F7])
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    ref, clean, records, truth = None, [], [], []
    for i in range(1, days + 1):
        day = (Date.fromisoformat(START) + timedelta(days=i - 1)).isoformat()
        frame = make_day(i - 1, day, rng, direction, plan)
        if i == poison_day:
            frame, flip = _poison(frame, spec, attack, rate, seed, vector)
            truth = [str(x) for x in flip.flipped_ids]
        if i == 1:
            frame, holdout = split_holdout(frame, spec, plan.reference_fraction, seed)
            ref = drift.fit_reference(holdout, spec)
            ref.day = day
        stats, _ = drift.day_stats(frame, ref)
        window = [s for d, s in clean if d != ref.day][-drift.WINDOW:]
        tests, warming, level = drift.run_guards(stats, window, ref)
        res = drift.DayResult(day, "", stats["rows"], "ok", "", tests=tests, warming_up=warming, level=level, stats=stats)
        rec = {**res.to_dict(), "poisoned": i == poison_day, "day": i, "suspects_exact": False}
        records.append(rec)
        if not res.alarm:
            clean.append((day, stats))
    return {"summary": sim_summary(records, truth, poison_day), "records": records}


def summarize(rows: list[dict], seeds_text: str, n_seeds: int, args, took: float) -> None:
    plan = getattr(args, "plan", None)
    knobs = "".join(f" --{k} {v}" for k, v in (("rows", args.rows), ("share-sd", args.share_sd), ("drift", args.drift)) if getattr(args, k.replace("-", "_"), None) is not None) if plan else ""
    lines = [
        f"Command: `python bench/drift.py --seeds {seeds_text}{' --in-memory' if getattr(args, 'in_memory', False) else ''}{knobs}` "
        f"({n_seeds} seeds, {args.days} days, poison day {args.poison_day}; {took / 60:.1f} min wall on 2 cores shared with other jobs).",
        "",
        "| attack | rate | vector | seeds | clean days | false alarms (days) | detected on poisoned day | suspects exactly the flipped rows | guards that fired (count) | largest clean-day z (prior / class-cond. / noise) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for attack, rate, vector in SCENARIOS:
        cell = [r for r in rows if (r["attack"], r["rate"], r["vector"]) == (attack, rate, vector)]
        if not cell:
            continue
        fired: dict[str, int] = {}
        for r in cell:
            for g in r["fired_on_poisoned_day"]:
                fired[g] = fired.get(g, 0) + 1
        zmax = {n: max(r["max_clean_z"][n] for r in cell) for n in ("label_prior", "class_conditional", "noise_rate")}
        lines.append(
            f"| {attack} | {rate:.0%} | {vector} | {len(cell)} | {sum(r['clean_days'] for r in cell)} | {sum(len(r['false_alarms']) for r in cell)} | "
            f"{sum(r['detected'] for r in cell)}/{len(cell)} | {'n/a (in memory)' if getattr(args, 'in_memory', False) else str(sum(r['suspects_exact'] for r in cell)) + '/' + str(len(cell))} | "
            f"{', '.join(f'{g} {n}' for g, n in sorted(fired.items()))} | {zmax['label_prior']:.1f} / {zmax['class_conditional']:.1f} / {zmax['noise_rate']:.1f} |"
        )
    missed = [f"{r['attack']} {r['rate']:.0%} {r['vector']} seed {r['seed']}" for r in rows if not r["detected"]]
    alarms = [f"{r['attack']} {r['rate']:.0%} {r['vector']} seed {r['seed']}: {', '.join(r['false_alarms'])}" for r in rows if r["false_alarms"]]
    lines += ["", f"Missed poisoned days: {'; '.join(missed) or 'none'}.", f"False alarms: {'; '.join(alarms) or 'none'}."]
    write_result("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
