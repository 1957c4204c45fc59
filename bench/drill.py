"""`labelguard drill` on the synthetic reviews and on two scikit-learn datasets, through the CLI; plus wall times.

Run: .venv/bin/python bench/drill.py [--seeds 2] [--models logreg] [--workers 1,2,4,dask2] [--out bench/results/drill.md]

Writes breast cancer (569 rows, 30 features, 2 classes) and wine (178 rows, 13 features, 3
classes) as CSV files, runs `labelguard drill --data FILE` on each and on the default synthetic
reviews (5,000 rows), and summarizes every report.json: material damage at rates >= 5 % caught per
vector, uncaught cells with their damage, clean controls' alarms and the certified accuracy curve.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_result

from labelguard.tasks.drill_report import UNCAUGHT_LABELS, fmt_points

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / ".venv" / "bin" / "labelguard")


def sklearn_csv(name: str, folder: Path) -> Path:
    from sklearn.datasets import load_breast_cancer, load_wine

    bunch = {"breast_cancer": load_breast_cancer, "wine": load_wine}[name](as_frame=True)
    frame = bunch.frame.rename(columns={"target": "label"})
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    frame.insert(0, "row_id", [f"row-{i:04d}" for i in range(len(frame))])
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


LAST_CPU = {"seconds": 0.0}  # CPU seconds of the last drill's process tree (CLI, Prefect's server, Dask workers)


def run_drill(args: list[str], out: Path) -> tuple[dict, float, str]:
    t0, c0 = time.perf_counter(), _children_cpu()
    # a kept drill folder (--keep) is resumed: only its missing cells run, and the reports are written again by this code
    resume = ["--resume"] if (out / "plan.json").is_file() else []
    proc = subprocess.run([CLI, "drill", "--out", str(out), *args, *resume], capture_output=True, text=True, cwd=ROOT)
    took = time.perf_counter() - t0
    LAST_CPU["seconds"] = _children_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"drill {args} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return json.loads((out / "report.json").read_text()), took, proc.stdout


# `labelguard drill` runs one worker on threads and N > 1 in processes; the other combinations
# (N threads, one process) through the same flow from Python, for the side-by-side timing
RUNNER_SCRIPT = """
import sys
from pathlib import Path
from labelguard.flows.drill import run_drill
from labelguard.tasks import drill
out, workers, processes, seeds = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "processes", int(sys.argv[4])
run_drill(drill.plan_drill(seeds=seeds, models=["logreg"]), out, workers=workers, processes=processes)
"""


def run_flow(out: Path, workers: int, kind: str, seeds: int) -> tuple[dict, float]:
    t0, c0 = time.perf_counter(), _children_cpu()
    env = {**os.environ, "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL", "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL", "DO_NOT_TRACK": "1"}
    proc = subprocess.run([sys.executable, "-c", RUNNER_SCRIPT, str(out), str(workers), kind, str(seeds)], capture_output=True, text=True, cwd=ROOT, env=env)
    took = time.perf_counter() - t0
    LAST_CPU["seconds"] = _children_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"run_drill {workers} {kind} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return json.loads((out / "report.json").read_text()), took


def summary_md(name: str, doc: dict, took: float, command: str) -> list[str]:
    s = doc["summary"]
    timing = doc.get("timing") or {}
    ran = (f"{took:.0f} s wall (drill itself {doc['seconds']:.0f} s)" if timing.get("units", 1)
           else f"report written again from the kept cells in {took:.0f} s (no cell ran: see the first run's time)")
    lines = [f"### {name}", "", f"`{command}` — {ran}, {s['cells']} cells, {s['errors']} errored", ""]
    ctl = s["controls"]
    lines.append(f"- clean controls {ctl['runs']}: passed {ctl.get('passed', '?')}, inconclusive {ctl.get('inconclusive', '?')}, fired {ctl['fired']}" + (f" ({ctl['by_guard']})" if ctl["by_guard"] else ""))
    for v, c in s["caught_share"].items():
        lines.append(f"- vector {v}: {c['caught']} of {c['material_cells']} cells with material damage at rates >= 5 % caught; not caught: {c['cannot_tell']} cannot tell (inconclusive), {c['silent']} silent pass")
    w = s["worst"]
    if w:
        lines.append(f"- worst case: {w['attack']} at {w['rate']:g} on {w['model']}: accuracy {w['clean_accuracy']:.3f} -> {w['accuracy']:.3f}, share moved {w['share_points']:+.1f} points")
    lines.append(f"- certificate: {s['certificate_sentence']}")
    if s["uncaught_material"]:
        lines += ["", "uncaught with material damage:", "", "| attack | rate | seed | model | vector | flips | verdict | acc lost (pts) | share moved (pts) |", "|---|---:|---:|---|---|---:|---|---:|---:|"]
        lines += [f"| {u['attack']} | {u['rate']:g} | {u['seed']} | {u['model']} | {u['vector']} | {u['flips']} | {UNCAUGHT_LABELS.get(u['verdict'], u['verdict'])} | {fmt_points(u['accuracy_points'])} | {fmt_points(u['share_points'], signed=True)} ({u['share_class']}) |" for u in s["uncaught_material"]]
    for c in doc["certificates"]:
        pts = c["curve"]
        step = max(1, len(pts) // 10)
        lines += ["", f"certified accuracy, {c['model']} ({c['method']}, {c['voters']} voters, {c['seconds']:.1f} s): "
                  + ", ".join(f"{p['flips']}: {p['certified_accuracy']:.3f}" for p in pts[::step] + ([pts[-1]] if (len(pts) - 1) % step else []))]
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--models", default="logreg,knn,gboost")
    ap.add_argument("--workers", default="", help="also time the default synthetic drill (logreg) with these runners: N (the CLI's --workers N: "
                    "threads for 1, processes above), daskN (--dask local --workers N), threadsN / procsN (N threads / processes through run_drill)")
    ap.add_argument("--perf-seeds", type=int, default=3, help="seeds of the timed drill (default 3: the default drill)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "drill.md")
    ap.add_argument("--keep", type=Path, default=None, help="keep the drill folders here (a folder kept by an earlier run with the same options is resumed)")
    ap.add_argument("--datasets", default="synthetic,breast_cancer,wine")
    a = ap.parse_args()
    lines = ["# labelguard drill (issue 10)", "", f"python {' '.join(sys.argv)}", "", "Wall times were taken on a shared 2-core machine while other jobs ran (the load average before and after each timed run is in its row): read them as upper bounds; CPU seconds are the steadier figure.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        base = a.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        common = ["--seeds", str(a.seeds), "--models", a.models]
        cases = {
            "synthetic": ("synthetic reviews (5,000 rows)", lambda: [*common]),
            "breast_cancer": ("breast cancer (569 rows, 30 features)", lambda: ["--data", str(sklearn_csv("breast_cancer", base)), "--id-col", "row_id", *common]),
            "wine": ("wine (178 rows, 13 features, 3 classes; positive class 1)", lambda: ["--data", str(sklearn_csv("wine", base)), "--id-col", "row_id", "--positive-class", "1", *common]),
        }
        for key in [k for k in a.datasets.split(",") if k]:
            name, make_args = cases[key]
            args = make_args()
            doc, took, _ = run_drill(args, base / f"drill-{key}")
            lines += summary_md(name, doc, took, "labelguard drill " + " ".join(a if "/" not in a else Path(a).name for a in args))
        if a.workers:
            lines += [f"### wall time of the perf drill (all attacks x 5 rates x {a.perf_seeds} seed(s) x logreg x 3 vectors, 5,000 rows)", "",
                      "`dask2`: `--dask local --workers 2` (a local cluster of two single-threaded worker processes). CPU: user + system seconds",
                      "of the whole process tree (the CLI, Prefect's ephemeral server, Dask's workers); units' CPU: the cells' own thread time.", "",
                      "| runner | load avg before / after | command wall (s) | command CPU (s) | drill flow (s) | seed setup (s) | cells loop (s) | units | tasks | units' own wall (s) | units' CPU (s) | CPU per unit (s) | Prefect overhead per task (s, 1 worker) | certificate + panels (s) |",
                      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
            for w in a.workers.split(","):
                before = os.getloadavg()
                if w.startswith(("threads", "procs")):  # e.g. threads2, procs1: through run_drill (see RUNNER_SCRIPT)
                    kind = "threads" if w.startswith("threads") else "processes"
                    doc, took = run_flow(base / f"perf-{w}", int(w.lstrip("threadsproc")), kind, a.perf_seeds)
                else:
                    runner = ["--dask", "local", "--workers", w[len("dask"):]] if w.startswith("dask") else ["--workers", w]
                    doc, took, _ = run_drill(["--models", "logreg", "--seeds", str(a.perf_seeds), *runner], base / f"perf-{w}")
                after = os.getloadavg()
                t = doc["timing"]
                overhead = f"{(t['cells_wall'] - t['units_own']) / t['tasks']:.3f}" if w == "1" else "—"
                label = w if not w.isdigit() else (f"{w} process(es)" if int(w) > 1 else "1 thread")
                lines.append(f"| {label} ({t['runner'].split(' ')[0]}, {t['workers']}) | {before[0]:.1f} / {after[0]:.1f} | {took:.0f} | {LAST_CPU['seconds']:.0f} | {doc['seconds']:.0f} | {t['setup']:.0f} | {t['cells_wall']:.0f} | {t['units']} | {t['tasks']} | "
                             f"{t['units_own']:.0f} | {t['units_cpu']:.0f} | {t['units_cpu'] / t['units']:.3f} | {overhead} | {t['certificate_and_panels']:.0f} |")
                print(lines[-1], flush=True)
            lines.append("")
    write_result("\n".join(lines), a.out)


if __name__ == "__main__":
    main()
