"""Ctrl-C a running `labelguard drill` as a terminal does (SIGINT to its process group), then --resume it.

Run: .venv/bin/python bench/drill_interrupt.py [--runner "--workers 2" | "--dask local --workers 2"] [--after-cells 3]

Starts the drill in its own session, waits until ``--after-cells`` cells are in cells.jsonl, sends
SIGINT to the whole process group (the CLI, its worker processes, a local Dask cluster's workers),
and prints how long the drill took to exit, its exit code, its last stderr lines and the cells kept;
then resumes it to the end and checks that every unit has exactly one cell per model.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / ".venv" / "bin" / "labelguard")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", default="--workers 2")
    ap.add_argument("--after-cells", type=int, default=3)
    ap.add_argument("--drill", default="--attacks targeted,random,nearest --rates 0.1,0.2 --seeds 1 --models logreg --rows 1000")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "drill"
        args = [CLI, "drill", "--out", str(out), *shlex.split(a.drill), *shlex.split(a.runner)]
        print("$", " ".join(args[1:]), flush=True)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
        cells = out / "cells.jsonl"
        while proc.poll() is None and (not cells.exists() or len(cells.read_text().splitlines()) < a.after_cells):
            time.sleep(0.2)
        kept_at_signal = len(cells.read_text().splitlines()) if cells.exists() else 0
        sent = time.perf_counter()
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=300)
        took = time.perf_counter() - sent
        lines = [ln for ln in stderr.splitlines() if ln.strip() and "━" not in ln]
        kept = [json.loads(ln) for ln in cells.read_text().splitlines()]
        print(f"SIGINT after {kept_at_signal} cells: exit {proc.returncode} in {took:.1f} s; {len(kept)} cells kept; "
              f"{sum('error' in c for c in kept)} errored", flush=True)
        print(f"stderr (without the progress bar, {len(lines)} lines):", *lines[-40:], sep="\n  ", flush=True)
        resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, cwd=ROOT)
        doc = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {"cells": []}
        keys = [(c["attack"], c["rate"], c["seed"], c["vector"], c["model"]) for c in doc["cells"]]
        print(f"--resume: exit {resumed.returncode}; {len(keys)} cells in report.json, {len(set(keys))} distinct, "
              f"{sum('error' in c for c in doc['cells'])} errored", flush=True)


if __name__ == "__main__":
    main()
