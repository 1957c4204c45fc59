"""Seal and verify a lake labelguard did not write: 1,000,000 rows in 20 Hive-partitioned Parquet parts.

Run: .venv/bin/python bench/perf_lake.py [--rows 1000000] [--parts 20] [--repeat 3]

Each step is the installed `labelguard` command in a fresh process (`/usr/bin/time -v` gives the
peak resident set): `seal` (hash, decode, sidecar, signatures, manifest) and `verify --guards manifest`
(hash every part, decode id and label). The floor is reading every part with
`pyarrow.parquet.read_table` plus SHA-256 of its bytes, in a fresh process too. Median of `--repeat`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from _common import write_result

LG = str(Path(sys.executable).parent / "labelguard")
FLOOR = r"""
import hashlib, pathlib, sys
import pyarrow.parquet as pq
for p in sorted(pathlib.Path(sys.argv[1]).rglob("part-*.parquet")):
    hashlib.sha256(p.read_bytes()).hexdigest()
    pq.read_table(p)
"""


def measured(cmd: list[str], env: dict) -> tuple[float, float]:
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr[-500:]}")
    wall, kib = re.findall(r"([\d.]+) (\d+)\s*$", proc.stderr.strip())[-1]
    return float(wall), int(kib) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--parts", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/perf_lake.md"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "DO_NOT_TRACK": "1"}
        subprocess.run([LG, "keygen", "--out", str(tmp / "keys")], env=env, check=True, capture_output=True)
        env.update({"LABELGUARD_SIGNING_KEY": str(tmp / "keys/signing.key"), "LABELGUARD_VERIFY_KEY": str(tmp / "keys/verify.pub")})
        per = args.rows // args.parts
        for repeat in range(args.repeat):
            lake = tmp / f"lake{repeat}"
            for i in range(args.parts):
                labels = rng.integers(0, 2, per)
                frame = pd.DataFrame({
                    "review_id": np.arange(i * per, (i + 1) * per), "label": labels,
                    "polarity": rng.normal(labels * 3.0, 1.0), "intensity": rng.normal(labels * 3.0, 1.0),
                })
                path = lake / f"date=2026-01-{i + 1:02d}" / "part-0.parquet"
                path.parent.mkdir(parents=True)
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
            results.setdefault("floor: SHA-256 + pyarrow read of every part", []).append(measured([sys.executable, "-c", FLOOR, str(lake)], env))
            results.setdefault(f"labelguard seal ({args.parts} parts)", []).append(measured([LG, "seal", str(lake), "--ledger", "none"], env))
            results.setdefault("labelguard verify --guards manifest", []).append(measured([LG, "verify", str(lake), "--guards", "manifest", "--ledger", "none"], env))
    floor = statistics.median(w for w, _ in results["floor: SHA-256 + pyarrow read of every part"])
    lines = [f"{args.rows:,} rows in {args.parts} Hive-partitioned parts (4 columns), local disk; median of {args.repeat} fresh processes; peak = maximum resident set.", "",
             "| step | wall s | x floor | peak RSS MiB |", "|---|---:|---:|---:|"]
    for name, values in results.items():
        wall = statistics.median(w for w, _ in values)
        peak = statistics.median(m for _, m in values)
        lines.append(f"| {name} | {wall:.2f} | {wall / floor:.2f} | {peak:.0f} |")
    write_result("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
