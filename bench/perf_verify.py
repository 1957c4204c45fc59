"""`verify` with the integrity guard on a large dataset, against the floor of reading + hashing + decoding.

Run: .venv/bin/python bench/perf_verify.py [--rows 10000000] [--repeat 3]

Floor: stream the object through SHA-256 and decode the id and label columns with pyarrow.
Ours: the plain `verify_dataset(..., names=["manifest"])` that `labelguard verify --guards manifest`
runs: manifest read, Ed25519 check, streamed SHA-256, decode of id and label into pandas.
Each measurement runs in a fresh process; memory is the peak resident set (sampled every 2 ms) above
the process's resident set after imports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_result

CHILD = r"""
import hashlib, json, os, sys, threading, time
import pyarrow.parquet as pq
from labelguard.tasks.manifest import load_verify_key
from labelguard.tasks.verify import verify_dataset
mode, root, pub = sys.argv[1], sys.argv[2], sys.argv[3]
PAGE = os.sysconf("SC_PAGE_SIZE")
def current():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE
peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], current()); time.sleep(0.002)
start = current(); threading.Thread(target=sample, daemon=True).start(); t = time.perf_counter()
if mode == "floor":
    with open(f"{root}/data.parquet", "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    table = pq.read_table(f"{root}/data.parquet", columns=["review_id", "label"])
    decoded = table.nbytes
    ok = True
else:
    report = verify_dataset(root, load_verify_key(pub), names=["manifest"])
    ok, decoded = report.ok, None
secs = time.perf_counter() - t
peak[0] = max(peak[0], current()); stop.set()
print(json.dumps({"seconds": secs, "peak_extra": peak[0] - start, "decoded": decoded, "ok": ok}))
"""


def measure(mode: str, root: Path, pub: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(root), str(pub)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/perf_verify.md"))
    args = ap.parse_args()
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, generate_keypair, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.synthetic import make_reviews

    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        sign, pub = generate_keypair(Path(tmp) / "keys")
        t0 = time.perf_counter()
        frame = make_reviews(args.rows, seed=0)
        write_dataset(LocalStore(Path(tmp) / "ds"), frame, ColumnSpec(), load_signing_key(sign), source={"kind": "bench"})
        ingest_s = time.perf_counter() - t0
        del frame
        size = (Path(tmp) / "ds" / "data.parquet").stat().st_size
        runs = {m: [measure(m, Path(tmp) / "ds", pub) for _ in range(args.repeat)] for m in ("floor", "verify")}
    assert all(r["ok"] for r in runs["verify"])
    med = {m: statistics.median(r["seconds"] for r in rs) for m, rs in runs.items()}
    mem = {m: statistics.median(r["peak_extra"] for r in rs) for m, rs in runs.items()}
    decoded = runs["floor"][0]["decoded"]
    md = "\n".join([
        f"{args.rows:,} rows, object {size / 2**20:.0f} MiB (zstd Parquet), local disk; median of {args.repeat} fresh processes. "
        f"Generating and ingesting it took {ingest_s:.0f} s.", "",
        "| | seconds | × floor | peak memory above start | × decoded id+label columns |", "|---|---:|---:|---:|---:|",
        f"| floor: SHA-256 stream + pyarrow decode of id, label | {med['floor']:.2f} | 1.00 | {mem['floor'] / 2**20:.0f} MiB | {mem['floor'] / decoded:.2f} |",
        f"| `verify_dataset(..., names=['manifest'])` | {med['verify']:.2f} | {med['verify'] / med['floor']:.2f} | {mem['verify'] / 2**20:.0f} MiB | {mem['verify'] / decoded:.2f} |",
        "", f"Decoded id+label columns (Arrow): {decoded / 2**20:.0f} MiB.",
    ]) + "\n"
    write_result(md, args.out)


if __name__ == "__main__":
    main()
