"""Issue 13's named breakages, made for real: each must make at least one test fail.

Each breakage is a text patch of one module (old -> new, the old text must occur exactly once).
It is applied to a staged copy of the installed layout (``build/breakages/<name>/labelguard/...``,
put first on ``PYTHONPATH`` so the tests and the ``labelguard`` command import it), and the tests
that claim to cover it run there; the working tree is never touched. A breakage passes this
check when its tests FAIL. A patch whose old text is no longer in the module is reported as
``stale`` (the code moved: update the patch), never as caught.

Usage: ``python bench/breakages.py [name ...]`` (default: all); writes ``bench/results/breakages.md``
(and ``breakages.json``, so a run of some breakages keeps the others' last results).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "breakages"
OUT = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Breakage:
    name: str
    what: str
    path: str  # module path in the repository
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments (files, node ids, -k expressions)
    control: bool = False  # a patch that changes nothing: its tests must PASS (the harness itself works)


def _always_pass(guard: str) -> str:
    """Appended to tasks/guards.py: the registered guard replaced by one that always passes."""
    return (
        f"\n\ndef _broken_{guard}(ctx, **_):\n"
        f"    return GuardResult({guard!r}, True, 'nothing to see')\n\n\n"
        f"REGISTRY[{guard!r}] = GuardSpec({guard!r}, _broken_{guard}, REGISTRY[{guard!r}].description)\n"
    )


END = "__END__"  # as ``old``: append ``new`` to the module

BREAKAGES = [
    Breakage(
        "control-unchanged", "nothing (a comment added): the staged copy and its tests must pass", "tasks/tamper.py",
        "    if is_csv(key):\n", "    if is_csv(key):  # staged\n",
        ("tests/test_tamper.py", "tests/test_store_contracts.py", "tests/test_guard_contracts.py", "-k", "dialect or row_group or added_rows or duplicate_conflicts"),
        control=True,
    ),
    *[
        Breakage(
            # appended after the module's last line, so it holds whatever issue 9 changes above it
            f"{g}-always-passes", f"`{g}` replaced by a guard that always passes", "tasks/guards.py", END, _always_pass(g),
            ("tests/test_guard_contracts.py", "-k", g),
        )
        for g in ("duplicate_conflicts", "model_gate", "label_contract", "class_balance")
    ],
    Breakage(
        "trust-check-removed", "a --reference / holdout / golden holdout / baseline source used without its verification passing",
        "tasks/verify.py", "    rep = load_verified(store, key, roles=roles, ledger=ledger, columns=columns)\n    if not rep.ok:\n",
        "    rep = load_verified(store, key, roles=roles, ledger=ledger, columns=columns)\n    if False:\n",
        ("tests/test_cli_contracts.py", "-k", "tampered_reference or tampered_holdout or tampered_golden or wrong_dataset"),
    ),
    Breakage(
        "pipeline-prechecks-removed", "`pipeline` no longer checks transform, rate, model and key before Prefect starts",
        "labelguard/cli.py", "        get_transform(transform), check_rate(rate), check_model(model), load_verify_key(settings.verify_key)\n",
        "        pass\n", ("tests/test_cli_contracts.py", "-k", "prechecks"),
    ),
    Breakage(
        "budget-one-short", "every attack spends one flip fewer than its budget (the note says so)",
        "tasks/attacks.py", "    positions = np.asarray(positions, dtype=int)\n",
        "    positions = np.asarray(positions, dtype=int)[:-1]\n    new = new[:-1]\n",
        ("tests/test_attack_contracts.py", "-k", "budget"),
    ),
    Breakage(
        "cluster-ignores-seed", "`cluster` picks its anchor with a fixed seed instead of the one passed",
        "tasks/attacks.py", "    anchor = Z[inp.rng.integers(len(Z))]", "    anchor = Z[np.random.default_rng(0).integers(len(Z))]",
        ("tests/test_attack_contracts.py", "-k", "seed and cluster"),
    ),
    Breakage(
        "tamper-drops-row-groups", "tamper writes one row group instead of the original's sizes",
        "tasks/tamper.py", "            writer.write_table(table.slice(offset, rows), row_group_size=max(1, rows))",
        "            if g == meta.num_row_groups - 1:\n                writer.write_table(table)  # every row, as one row group",
        ("tests/test_tamper.py", "-k", "row_group"),
    ),
    Breakage(
        "tamper-reverses-rows", "tamper writes the rows in reverse order",
        "tasks/tamper.py", "    table = table.set_column(at, table.schema.field(at), pa.Array.from_pandas(frame[spec.label_col], type=schema.field(at).type))\n",
        "    table = table.set_column(at, table.schema.field(at), pa.Array.from_pandas(frame[spec.label_col], type=schema.field(at).type))\n"
        "    table = table.take(list(range(table.num_rows - 1, -1, -1)))\n",
        ("tests/test_tamper.py", "-k", "row_order"),
    ),
    Breakage(
        "csv-label-as-X", "tamper writes `X` into each flipped CSV label cell",
        "tasks/tamper.py", "    value = to_py(value)\n", "    return \"X\"\n",
        ("tests/test_tamper.py", "-k", "dialect"),
    ),
    Breakage(
        "csv-label-as-float", "tamper writes `1.0` for the integer class 1 in a CSV",
        "tasks/tamper.py", "        new_labels = {int(i): _cell(labels[i]) for i in changed.to_numpy().nonzero()[0]}\n",
        "        new_labels = {int(i): str(float(labels[i])) for i in changed.to_numpy().nonzero()[0]}\n",
        ("tests/test_tamper.py", "-k", "dialect"),
    ),
    Breakage(
        "sidecar-misses-added-rows", "the sidecar comparison never names added rows",
        "tasks/dataset.py", "        \"added\": [i for i in sort_ids(extra.index.tolist()) for _ in range(int(extra[i]))],", "        \"added\": [],",
        ("tests/test_store_contracts.py", "-k", "added_rows"),
    ),
    Breakage(
        "sidecar-misses-other-edits", "the sidecar comparison never names rows edited outside the label",
        "tasks/dataset.py", "        \"other_changed\": other_changed.difference(label_changed).tolist(),", "        \"other_changed\": [],",
        ("tests/test_store_contracts.py", "-k", "feature_and_label"),
    ),
    Breakage(
        "object-missing-removed", "a deleted data object is no longer reported as `object-missing`",
        "tasks/dataset.py", "        if head is None:  # the others still decode", "        if False:  # the others still decode",
        ("tests/test_store_contracts.py", "-k", "object_missing"),
    ),
    Breakage(
        "no-cleanup-after-failed-write", "objects written before a failed write are left behind",
        "tasks/dataset.py", "    for object_key, version_id in reversed(written):\n", "    for object_key, version_id in []:\n",
        ("tests/test_store_contracts.py", "-k", "failed_write"),
    ),
]


def stage(b: Breakage) -> tuple[Path, str]:
    """The installed layout with ``b`` applied; returns (folder, "ok" | "stale")."""
    where = STAGE / b.name
    shutil.rmtree(where, ignore_errors=True)
    pkg = where / "labelguard"
    shutil.copytree(ROOT / "labelguard", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("tasks", "flows", "schemas", "data"):
        shutil.copytree(ROOT / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    target = pkg / b.path.removeprefix("labelguard/")
    text = target.read_text()
    if b.old == END:
        target.write_text(text + b.new)
        return where, "ok"
    if text.count(b.old) != 1:
        return where, "stale"
    target.write_text(text.replace(b.old, b.new))
    return where, "ok"


def check(b: Breakage) -> dict:
    where, state = stage(b)
    if state == "stale":
        return {"name": b.name, "what": b.what, "result": "stale (patch no longer applies)", "failed": None, "seconds": 0.0}
    env = {**os.environ, "PYTHONPATH": str(where), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *b.tests],
        cwd=where, env=env, capture_output=True, text=True, check=False,
    )
    seconds = time.monotonic() - start
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")]
    if b.control:
        result = "passes, as it must" if proc.returncode == 0 else f"CONTROL FAILED (pytest exit {proc.returncode}: {last})"
    elif proc.returncode == 1 and failed:
        result = "caught"
    elif proc.returncode == 0:
        result = "NOT CAUGHT (every selected test passed)"
    else:
        result = f"error (pytest exit {proc.returncode}: {last})"
    return {"name": b.name, "what": b.what, "result": result, "failed": failed[:1], "seconds": round(seconds, 1), "summary": last}


def main(argv: list[str]) -> int:
    chosen = [b for b in BREAKAGES if not argv or b.name in argv]
    rows = []
    for b in chosen:
        r = check(b)
        print(f"{r['name']}: {r['result']} {r['failed'] or ''} ({r['seconds']} s)", flush=True)
        rows.append(r)
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / "breakages.json"  # a run of some breakages updates their rows and keeps the others'
    known = json.loads(store.read_text()) if store.exists() else {}
    known.update({r["name"]: r for r in rows})
    store.write_text(json.dumps(known, indent=1))
    md = ["| breakage | made by | result | first failing test | seconds |", "|---|---|---|---|---:|"]
    md += [f"| {r['name']} | {r['what']} | {r['result']} | {'`' + r['failed'][0] + '`' if r['failed'] else ''} | {r['seconds']} |"
           for b in BREAKAGES if (r := known.get(b.name))]
    (OUT / "breakages.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if all(r["result"] in ("caught", "passes, as it must") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
