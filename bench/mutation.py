"""Mutation testing of the verdict modules with mutmut 3: kill rate per module, surviving mutants listed.

mutmut names a mutant by the module path it copied (``tasks/manifest.py`` -> ``tasks.manifest``)
and activates it only when the running function's ``__module__`` matches; here the code runs as
``labelguard.tasks.manifest`` (setuptools ``package-dir``). So each run stages the installed layout
under ``build/mutation/<module>/`` (``labelguard/`` with ``tasks/``, ``flows/``, ``schemas/`` and
``data/`` inside it, plus ``tests/``), where path and module name agree, and runs mutmut there on
one module at a time with only that module's fast tests.

Usage: ``python bench/mutation.py [module ...]`` (default: the six modules in DEFAULT;
``--report [module ...]`` re-reads finished runs);
``make mutation`` runs them all. Writes ``bench/results/mutation.md`` and ``mutation.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "mutation"
OUT = ROOT / "bench" / "results"
MUTMUT = str(Path(sys.executable).parent / "mutmut")

# module -> the fast tests that decide its verdicts (no Prefect flows; the moto server is started once)
MODULES: dict[str, list[str]] = {
    "manifest": ["tests/test_manifest_contracts.py", "tests/test_manifest.py", "tests/test_dataset.py", "tests/test_replay.py"],
    "dataset": ["tests/test_dataset.py", "tests/test_store_contracts.py", "tests/test_replay.py", "tests/test_manifest.py"],
    "ledger": ["tests/test_replay.py", "tests/test_ledger_contracts.py"],
    "attacks": ["tests/test_attack_contracts.py", "tests/test_attacks.py::test_targeted_flips_positive_to_negative_by_default",
                "tests/test_attacks.py::test_targeted_flip_matrix_splits_budget_exactly", "tests/test_attacks.py::test_targeted_budget_beyond_source_class",
                "tests/test_attacks.py::test_rate_bounds", "tests/test_attacks.py::test_unknown_attack_lists_valid_names",
                "tests/test_attacks.py::test_missing_and_continuous_label_columns"],
    "tamper": ["tests/test_tamper.py"],
    "storage": ["tests/test_storage.py", "tests/test_store_contracts.py", "tests/test_faults.py"],
    # ready for when issue 9's guards/detectors land: the two-sided contracts are their fast tests
    "guards": ["tests/test_guard_contracts.py", "tests/test_guards.py"],
    "detectors": ["tests/test_guard_contracts.py", "tests/test_guards.py"],
}
DEFAULT = ["manifest", "dataset", "ledger", "attacks", "tamper", "storage"]


def stage(module: str) -> Path:
    """The installed layout, with mutmut configured for one module."""
    where = STAGE / module
    shutil.rmtree(where, ignore_errors=True)
    pkg = where / "labelguard"
    shutil.copytree(ROOT / "labelguard", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("tasks", "flows", "schemas", "data"):
        shutil.copytree(ROOT / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    tests = MODULES[module]
    (where / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'source_paths = ["labelguard"]\n'
        f'only_mutate = ["labelguard/tasks/{module}.py"]\n'
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "not flow", "-x", "-q"]\n'
        "\n[tool.pytest.ini_options]\n"
        'markers = ["flow: runs a Prefect flow end to end (slower)"]\n'
        'filterwarnings = ["ignore::DeprecationWarning:botocore.*"]\n'
    )
    return where


def run(module: str, max_children: int) -> dict:
    where = stage(module)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([MUTMUT, "run", "--max-children", str(max_children)], cwd=where, env=env, check=False)
    return collect(module)


def collect(module: str) -> dict:
    """Read the outcome of a finished run from its staged folder."""
    where = STAGE / module
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    listing = subprocess.run([MUTMUT, "results", "--all", "true"], cwd=where, env=env, capture_output=True, text=True, check=False).stdout
    status: dict[str, str] = {}
    for line in listing.splitlines():
        if ":" in line:
            name, state = line.rsplit(":", 1)
            status[name.strip()] = state.strip()
    counts: dict[str, int] = {}
    for state in status.values():
        counts[state] = counts.get(state, 0) + 1
    # "no tests" (no selected test runs the function) counts against the module, like a survivor
    judged = sum(v for k, v in counts.items() if k in ("killed", "survived", "timeout", "segfault", "no tests", "suspicious"))
    killed = sum(v for k, v in counts.items() if k in ("killed", "timeout", "segfault"))
    survivors = sorted(n for n, s in status.items() if s in ("survived", "no tests", "suspicious"))
    survivors = [f"{n} ({status[n]})" if status[n] != "survived" else n for n in survivors]
    return {"module": module, "tests": MODULES[module], "counts": counts, "judged": judged, "killed": killed,
            "kill_rate": killed / judged if judged else None, "survived": survivors}


def main(argv: list[str]) -> None:
    report_only = argv[:1] == ["--report"]  # re-read finished runs under build/mutation/ without running
    modules = (argv[1:] if report_only else argv) or DEFAULT
    max_children = int(os.environ.get("MUTATION_JOBS", "2"))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "mutation.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for module in modules:
        if report_only and not (STAGE / module / "mutants").is_dir():
            continue
        results[module] = collect(module) if report_only else run(module, max_children)
        path.write_text(json.dumps(results, indent=1))
    lines = ["| module | mutants | killed | not killed | kill rate | of which not run by any selected test |", "|---|---:|---:|---:|---:|---|"]
    for module, r in results.items():
        other = {k: v for k, v in r["counts"].items() if k not in ("killed", "survived", "timeout", "segfault")}  # no tests, suspicious, skipped
        rate = f"{r['kill_rate']:.1%}" if r["kill_rate"] is not None else "—"
        lines.append(f"| tasks/{module}.py | {r['judged']} | {r['killed']} | {len(r['survived'])} | {rate} | {other or ''} |")
    md = "\n".join(lines) + "\n"
    for module, r in results.items():
        if r["survived"]:
            md += f"\nSurvivors in tasks/{module}.py (`cd build/mutation/{module} && mutmut show NAME`):\n" + "\n".join(f"- `{n}`" for n in r["survived"]) + "\n"
    (OUT / "mutation.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main(sys.argv[1:])
