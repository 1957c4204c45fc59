"""False-alarm calibration: every guard on clean data over many seeds, in two regimes.

Run: .venv/bin/python bench/calibrate.py [--seeds 50] [--out bench/results/calibration.md]

Each seed ingests (locally, signed) a clean training set, an independent 1,000-row trusted
reference and a 1,000-row holdout, runs the honest transform, then every registered guard.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import write_result
from labelguard.tasks import guards, transforms
from labelguard.tasks.dataset import load_verified, write_dataset
from labelguard.tasks.manifest import ColumnSpec, generate_keypair, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews

REGIMES = {"default (separation 5)": 5.0, "overlapping (separation 2.8, clean accuracy ~0.92)": 2.8}


def run(seeds: int, rows: int) -> tuple[dict, dict]:
    spec = ColumnSpec()
    fired: dict = {r: defaultdict(int) for r in REGIMES}
    ran: dict = {r: defaultdict(int) for r in REGIMES}
    with tempfile.TemporaryDirectory() as tmp:
        sign, verify = generate_keypair(Path(tmp) / "keys")
        key, pub = load_signing_key(sign), load_verify_key(verify)
        for regime, sep in REGIMES.items():
            for seed in range(seeds):
                store = LocalStore(Path(tmp) / f"{sep}-{seed}")
                write_dataset(store, make_reviews(rows, separation=sep, seed=seed), spec, key, source={})
                integrity = load_verified(store, pub)
                out = transforms.run_transform(integrity.frame, spec, transforms.HONEST, seed=seed)
                ctx = guards.GuardContext(
                    frame=out.frame, spec=spec, integrity=integrity, before=integrity.frame,
                    transform=transforms.get_transform(transforms.HONEST),
                    reference=make_reviews(1000, separation=sep, seed=100_000 + seed),
                    holdout=make_reviews(1000, separation=sep, seed=200_000 + seed),
                )
                for res in guards.run_guards(ctx):
                    if res.skipped:
                        continue
                    ran[regime][res.name] += 1
                    fired[regime][res.name] += int(not res.passed)
    return fired, ran


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--out", type=Path, default=Path("bench/results/calibration.md"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    fired, ran = run(args.seeds, args.rows)
    lines = [f"{args.seeds} clean seeds per regime, {args.rows} training rows, 1,000-row reference and holdout; "
             f"every dataset-level test at alpha = {guards.ALPHA:g}. Wall time {time.perf_counter() - t0:.0f} s.", "",
             "| guard | " + " | ".join(REGIMES) + " |", "|---|" + "---:|" * len(REGIMES)]
    for name in guards.REGISTRY:
        cells = [f"{fired[r][name]} / {ran[r][name]} ({fired[r][name] / max(1, ran[r][name]):.1%})" if ran[r][name] else "skipped" for r in REGIMES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    md = "\n".join(lines) + "\n"
    write_result(md, args.out)


if __name__ == "__main__":
    main()
