"""Ingest of a large PostgreSQL table (streaming) against the floor of `COPY` to a file + reading it with pyarrow.

Run: .venv/bin/python bench/perf_postgres.py [--rows 1000000] [--repeat 3] [--url postgresql://…?table=NAME]

Without --url a throwaway cluster is started on loopback (labelguard.testing; as user postgres
when run as root). The table is seeded with synthetic reviews and vacuumed (so hint bits are set
before anything is timed), then each measurement runs in a fresh process, alternating:

* floor: `COPY (SELECT <columns> ORDER BY id) TO STDOUT` written to a local file, then
  `pyarrow.csv.read_csv` of that file (the whole table in Arrow);
* ingest: `tasks.table_ingest.ingest_table` — what the `ingest-table` task of
  `labelguard ingest --source postgresql://…` runs — into a local store: one snapshot, batches
  validated and written to Parquet, holdout split, sidecars, signed manifests; once without a
  table fingerprint and once guarded by one (every row's BLAKE2b tag and the stream's SHA-256
  computed client-side from the same COPY bytes, in the same pass);
* two parts, to show where the time goes: the snapshot stream into Arrow batches alone, with and
  without the row tags.

Besides wall time, each child reports its own CPU seconds and the server's (the cluster's
backends, read from /proc): on a shared machine those move far less than the seconds do.

Memory is the peak resident set (sampled every 2 ms) above the process's resident set after imports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_result

CHILD = r"""
import json, os, sys, tempfile, threading, time
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")  # as the CLI sets it (labelguard.cli.QUIET_ENV)
from pathlib import Path
import psycopg, pyarrow.csv as pacsv
from labelguard.tasks import postgres as pg
from labelguard.tasks.manifest import load_signing_key
from labelguard.tasks.storage import open_store
from labelguard.tasks.table_ingest import ingest_table
mode, url, key_path, fp, pidfile = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
PAGE, TICK = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
def server_cpu():
    # the postmaster's own and reaped children's CPU plus its live backends'; None for a server not ours
    if not pidfile:
        return None
    pm, total = int(open(pidfile).read().split()[0]), 0
    for p in os.listdir("/proc"):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split() if p.isdigit() else None
        except OSError:
            continue
        if f and int(p) == pm:
            total += sum(int(x) for x in f[11:15])
        elif f and int(f[1]) == pm:
            total += int(f[11]) + int(f[12])
    return total / TICK
def current():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE
peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], current()); time.sleep(0.002)
work = tempfile.mkdtemp(prefix="lg-bench-")
target = pg.parse_table_url(url)
key = load_signing_key(Path(key_path))
start = current(); threading.Thread(target=sample, daemon=True).start()
server0, cpu0, t = server_cpu(), time.process_time(), time.perf_counter()
if mode == "floor":
    query = ('COPY (SELECT review_id, label, polarity, intensity, created_at AT TIME ZONE \'UTC\' FROM ' + target.table +
             ' ORDER BY review_id COLLATE "C") TO STDOUT (FORMAT csv)')
    with psycopg.connect(target.conninfo) as conn, open(f"{work}/t.csv", "wb") as out:
        with conn.cursor().copy(query) as copy:
            for chunk in copy:
                out.write(chunk)
    rows = pacsv.read_csv(f"{work}/t.csv", read_options=pacsv.ReadOptions(column_names=["review_id", "label", "polarity", "intensity", "created_at"])).num_rows
elif mode.startswith("stream"):
    with pg.table_session(target) as s:
        cols = ["review_id", "label", "polarity", "intensity", "created_at"]
        tagger = pg.RowTagger() if mode == "stream+tags" else None
        rows = sum(b.num_rows for b in s.stream(cols, order_by="review_id", tagger=tagger))
elif mode == "verify":
    diff, _ = pg.verify_table(target, key.public_key(), fingerprint=Path(fp))
    assert diff.ok
    rows = pg.load_fingerprint(Path(fp), key.public_key()).payload["rows"]
else:
    res = ingest_table(target, open_store(f"{work}/ds"), key, fingerprint=Path(fp) if mode == "guarded" else None)
    rows = res["source"]["rows"]
secs, cpu, server1 = time.perf_counter() - t, time.process_time() - cpu0, server_cpu()
peak[0] = max(peak[0], current()); stop.set()
print(json.dumps({"seconds": secs, "cpu": cpu, "server_cpu": None if server0 is None else server1 - server0, "peak_extra": peak[0] - start, "rows": rows}))
"""


def measure(mode: str, url: str, key: Path, fp: Path, pidfile: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, url, str(key), str(fp), pidfile], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", default=None, help="An existing server's postgresql://…?table=NAME (default: a throwaway cluster).")
    ap.add_argument("--out", type=Path, default=Path("bench/results/perf_postgres.md"))
    args = ap.parse_args()

    import psycopg

    from labelguard.tasks import postgres as pg
    from labelguard.tasks.manifest import generate_keypair, load_signing_key
    from labelguard.testing import start_cluster, stop_cluster

    cluster = None
    if args.url is None:
        cluster = start_cluster()
        cluster.create_database("bench")
        url = cluster.url("bench", table=f"reviews_{args.rows}")
        pidfile = str(cluster.root / "data" / "postmaster.pid")
    else:
        url, pidfile = args.url, ""
    try:
        target = pg.parse_table_url(url)
        t = time.perf_counter()
        try:
            pg.seed_db(target, args.rows, seed=0)
            print(f"seeded {args.rows} rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - an existing table of that name is reused
            print(f"reusing the existing table ({exc})", file=sys.stderr)
        with psycopg.connect(target.conninfo, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {target.table}")
        work = Path(tempfile.mkdtemp(prefix="lg-bench-keys-"))
        sign, _ = generate_keypair(work)
        fp = pg.take_fingerprint(target, load_signing_key(sign), out=work / "fp.json").path
        results: dict[str, list[dict]] = {"floor": [], "stream": [], "stream+tags": [], "ingest": [], "guarded": [], "verify": []}
        load_before = os.getloadavg()
        for _ in range(args.repeat):
            for mode in results:
                results[mode].append(measure(mode, url, sign, fp, pidfile))
                print(mode, results[mode][-1], file=sys.stderr)
        load_after = os.getloadavg()
    finally:
        if cluster is not None:
            stop_cluster(cluster)

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    floor_s, floor_m = med("floor", "seconds"), med("floor", "peak_extra")
    lines = [
        f"{args.rows:,} rows (review_id text, label bigint, 2 float8, timestamptz), PostgreSQL on loopback, median of {args.repeat} fresh processes "
        "per mode, run alternately."
        + (" Other jobs shared the 2 cores while this ran (load average above 2): read the ratios, not the seconds." if max(load_before[0], load_after[0]) > 2.5 else ""),
        "",
        "| mode | seconds (median) | × floor | client CPU s | server CPU s | peak RSS above start (MiB, median) | runs (s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    names = {
        "floor": "floor: COPY to a file + pyarrow read_csv",
        "stream": "(part) snapshot stream into Arrow batches, nothing else",
        "stream+tags": "(part) the same with the row tags and stream digest (client-side, same pass)",
        "ingest": "ingest_table, no fingerprint",
        "guarded": "ingest_table, guarded by a fingerprint (the default when one exists)",
        "verify": "verify_table: `labelguard verify URL` on the unchanged table (also the CLI's pre-Prefect check of a guarded ingest)",
    }
    for mode, name in names.items():
        s, m = med(mode, "seconds"), med(mode, "peak_extra")
        runs = ", ".join(f"{r['seconds']:.1f}" for r in results[mode])
        server = "—" if results[mode][0]["server_cpu"] is None else f"{med(mode, 'server_cpu'):.1f}"
        lines.append(f"| {name} | {s:.1f} | {s / floor_s:.2f} | {med(mode, 'cpu'):.1f} | {server} | {m / 2**20:.0f} | {runs} |")
    lines += ["", f"Targets: ≤ 2× the floor in time, ≤ 300 MiB above start. Floor peak: {floor_m / 2**20:.0f} MiB. "
              f"Load average (1 min) before: {load_before[0]:.1f}, after: {load_after[0]:.1f} (2 cores)."]
    write_result("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
