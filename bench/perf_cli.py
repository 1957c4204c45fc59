"""How long the `labelguard` command takes before and while it works: the issue-7 start-up targets.

Run: .venv/bin/python bench/perf_cli.py [--repeat 5] [--out bench/results/perf_cli.md]

Each row is the median wall time of fresh processes of the installed console script:
`--help`; a bad flag (usage error); a bad rate (an input error answered before anything heavy);
`verify --guards manifest` and plain `verify` of a 1,000-row local dataset; `ingest` of 1,000 rows
with Prefect's ephemeral API and with a running `labelguard server`. The floor is
`python -c "import pyarrow.parquet"` in the same run. Targets (issue 7): help and usage/input
errors <= 1.5 s; verify of 1,000 rows <= 2.5 s; ingest with a running server <= 5 s.
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

BIN = Path(sys.executable).parent
LG = str(BIN / "labelguard")


def timed(cmd: list[str], env: dict, *, expect: int | None = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if expect is not None and proc.returncode != expect:
        raise SystemExit(f"{cmd} exited {proc.returncode}, expected {expect}: {proc.stderr[-400:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench/results/perf_cli.md"))
    args = ap.parse_args()
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
        env.update({"LABELGUARD_HOME": str(tmp / "home"), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_HOME": str(tmp / "prefect-home")})
        subprocess.run([LG, "keygen", "--out", str(tmp / "keys")], env=env, check=True, capture_output=True)
        env.update({"LABELGUARD_SIGNING_KEY": str(tmp / "keys/signing.key"), "LABELGUARD_VERIFY_KEY": str(tmp / "keys/verify.pub")})
        # 1,000 training rows (1,250 generated, a fifth held out)
        subprocess.run([LG, "ingest", "--dest", str(tmp / "ds"), "--rows", "1250"], env=env, check=True, capture_output=True)
        cases = {
            'floor: python -c "import pyarrow.parquet"': ([sys.executable, "-c", "import pyarrow.parquet"], 0),
            "labelguard --help": ([LG, "--help"], 0),
            "usage error (unknown flag)": ([LG, "verify", "--nope"], 2),
            "input error (rate 1.5)": ([LG, "poison", "x.csv", "--out", "y.csv", "--attack", "random", "--rate", "1.5"], 2),
            "verify --guards manifest, 1,000 rows": ([LG, "verify", str(tmp / "ds"), "--guards", "manifest"], 0),
            "verify (every guard), 1,000 rows": ([LG, "verify", str(tmp / "ds")], 0),
        }
        for _ in range(args.repeat):
            for name, (cmd, code) in cases.items():
                rows.setdefault(name, []).append(timed(cmd, env, expect=code))
        for i in range(min(args.repeat, 3)):
            rows.setdefault("ingest 1,000 rows, ephemeral Prefect API", []).append(
                timed([LG, "ingest", "--dest", str(tmp / f"e{i}"), "--rows", "1250"], env, expect=0)
            )
        server = subprocess.Popen([LG, "server", "--no-ui"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            state = tmp / "home" / "server.json"
            deadline = time.monotonic() + 240
            while not state.exists():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("labelguard server did not start")
                time.sleep(0.5)
            timed([LG, "ingest", "--dest", str(tmp / "warm"), "--rows", "1250"], env, expect=0)  # first flow run registers the flow
            for i in range(args.repeat):
                rows.setdefault("ingest 1,000 rows, running `labelguard server`", []).append(
                    timed([LG, "ingest", "--dest", str(tmp / f"s{i}"), "--rows", "1250"], env, expect=0)
                )
            api = json.loads(state.read_text())["api_url"]
        finally:
            server.terminate()
            server.wait(timeout=60)
    targets = {"labelguard --help": 1.5, "usage error (unknown flag)": 1.5, "input error (rate 1.5)": 1.5, "verify --guards manifest, 1,000 rows": 2.5, "verify (every guard), 1,000 rows": 2.5, "ingest 1,000 rows, running `labelguard server`": 5.0}
    floor = statistics.median(rows['floor: python -c "import pyarrow.parquet"'])
    lines = [
        f"Median wall time over {args.repeat} fresh processes (ingest on the ephemeral API: {min(args.repeat, 3)}); floor = `import pyarrow.parquet` = {floor:.2f} s. Server: {api} (SQLite under a temp LABELGUARD_HOME).",
        "",
        "| command | median s | min s | max s | x floor | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, values in rows.items():
        med = statistics.median(values)
        target = targets.get(name)
        verdict = "" if target is None else (f"<= {target} s: {'met' if med <= target else 'missed'}")
        lines.append(f"| {name} | {med:.2f} | {min(values):.2f} | {max(values):.2f} | {med / floor:.1f} | {verdict} |")
    write_result("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
