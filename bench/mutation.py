"""Mutation testing of the verdict modules with mutmut 3: kill rate per module, surviving mutants listed.

mutmut names a mutant by the module path it copied (``tasks/manifest.py`` -> ``tasks.manifest``)
and activates it only when the running function's ``__module__`` matches; here the code runs as
``labelguard.tasks.manifest`` (setuptools ``package-dir``). So each run stages the installed layout
under ``build/mutation/<module>/`` (``labelguard/`` with ``tasks/``, ``flows/``, ``schemas/`` and
``data/`` inside it, plus ``tests/``), where path and module name agree, and runs mutmut there on
one module at a time with only that module's fast tests.

Usage: ``python bench/mutation.py [module ...]`` (default: the eight verdict modules in DEFAULT;
``--report [module ...]`` re-reads finished runs; ``--rerun [module ...]`` runs their survivors
again against the tests as they are now (the first pass is kept beside it); ``--sample N [--seed S] [--fresh] module ...`` runs a
uniform random sample of N of each module's mutants (``--fresh``: of those no earlier sample drew), named to mutmut, and reports the kill rate
with its 95 % Wilson interval, for when a full run does not fit the time at hand); ``--names MODULE NAME...``
stages the module afresh and runs only the named mutants (an earlier run's survivors, on the current code);
``--functions MODULE FUNC[:FIRST]...`` runs every mutant of the named functions (``S3Store._call``, ``_s3_client``),
from mutant number FIRST on when given (the part of a full run a deadline stopped: mutmut runs a function's mutants in order);
``--help`` prints the usage; an unknown option or module is refused before anything is staged.
``make mutation`` runs them all. Writes ``bench/results/mutation.md`` and ``mutation.json``.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import os
import random
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "mutation"
OUT = ROOT / "bench" / "results"
MUTMUT = str(Path(sys.executable).parent / "mutmut")

# module -> the fast tests that decide its verdicts (no Prefect flows; the moto server is started once)
MODULES: dict[str, list[str]] = {
    "manifest": ["tests/test_manifest_contracts.py", "tests/test_manifest.py", "tests/test_dataset.py", "tests/test_replay.py",
                 "tests/test_manifest_full.py"],
    "dataset": ["tests/test_dataset.py", "tests/test_store_contracts.py", "tests/test_replay.py", "tests/test_manifest.py", "tests/test_dataset_details.py",
                "tests/test_s3_contracts.py",
                "tests/test_tamper_contracts.py::test_only_objects_holding_flipped_rows_are_rewritten_and_the_forgery_matches_them",
                "tests/test_tamper_contracts.py::test_forged_then_resigned_manifest_keeps_the_dataset_identity_and_sealed_source",
                "tests/test_dataset_survivors.py", "tests/test_dataset_fresh.py", "tests/test_dataset_seed12.py",
                "tests/test_dataset_seed13.py",
                # the empty-id refusal of _refuse_repeated_ids is tested only here (30 survivors of the eleventh session's partial run)
                "tests/test_fix_findings_r6_read.py::test_seal_of_parts_with_empty_ids_names_the_row_not_a_crash",
                "tests/test_dataset_repeated_ids.py",
                # the sidecar signature's exact outcomes (break-it r9 F8): never in the selection (twelfth session)
                "tests/test_sidecar_signature.py",
                # written against the twelfth session's survivors (_verify_objects, _hashable, ...)
                "tests/test_dataset_full.py",
                # write_dataset's digest fallback for a store whose put reports no SHA-256 (nineteenth session: write_dataset 46, 47, 56, 57)
                "tests/test_fix_lead_s27.py::test_a_store_that_reports_no_checksum_gets_the_sidecars_digest_computed_too"],
    "ledger": ["tests/test_replay.py", "tests/test_ledger_contracts.py", "tests/test_ledger_full.py"],
    "attacks": ["tests/test_attack_contracts.py", "tests/test_attacks.py::test_targeted_flips_positive_to_negative_by_default",
                "tests/test_attacks.py::test_targeted_flip_matrix_splits_budget_exactly", "tests/test_attacks.py::test_targeted_budget_beyond_source_class",
                "tests/test_attacks.py::test_rate_bounds", "tests/test_attacks.py::test_unknown_attack_lists_valid_names",
                "tests/test_attacks.py::test_missing_and_continuous_label_columns", "tests/test_attack_details.py",
                "tests/test_attack_survivors.py", "tests/test_registry_decorators.py", "tests/test_attacks_fresh.py",
                "tests/test_attacks_seed12.py", "tests/test_attacks_seed13.py", "tests/test_attacks_full.py"],
    "tamper": ["tests/test_tamper.py", "tests/test_tamper_contracts.py", "tests/test_s3_contracts.py", "tests/test_tamper_seed11.py",
               "tests/test_tamper_full.py"],
    "storage": ["tests/test_storage.py", "tests/test_store_contracts.py", "tests/test_faults.py", "tests/test_storage_details.py",
                "tests/test_s3_contracts.py", "tests/test_dataset_details.py", "tests/test_storage_words.py", "tests/test_storage_survivors.py",
                "tests/test_storage_fresh.py", "tests/test_storage_seed12.py", "tests/test_storage_seed13.py", "tests/test_storage_full.py"],
    # the two-sided contracts, and the values and wording each guard and detector must produce
    "guards": ["tests/test_guard_contracts.py", "tests/test_guards.py", "tests/test_guard_contracts_mutation.py", "tests/test_registry_decorators.py",
               "tests/test_guards_fresh.py", "tests/test_guards_full.py",
               # knn_consistency on ties, the trusted rows scored against the candidate's (break-it r18 F1), and the
               # survivors of its first mutation run (twentieth session, branch r33knn-s33)
               "tests/test_knn_ties_r18.py", "tests/test_knn_mutants_s33.py"],
    "detectors": ["tests/test_guard_contracts.py", "tests/test_guards.py", "tests/test_guard_contracts_mutation.py", "tests/test_detectors_fresh.py",
                  "tests/test_detectors_seed12.py", "tests/test_detectors_seed13.py", "tests/test_detectors_full.py",
                  # the outer fence's exact fences and what it is for (nineteenth session: heavy tails, break-it r16 F4)
                  "tests/test_fix_lead_s32.py::test_the_fence_clips_at_tukeys_outer_fences_and_leaves_coinciding_quartiles_alone",
                  "tests/test_fix_lead_s32.py::test_the_fence_fitted_on_no_rows_clips_nothing_and_says_nothing",
                  "tests/test_fix_lead_s32.py::test_clean_cauchy_features_pass_the_model_gate_that_a_standardised_model_fired",
                  # the model-family choice's own tests (not the guard and verify runs on rings: 5-27 s each)
                  "tests/test_detector_model.py::test_rings_choose_the_kernel_family_and_blobs_keep_the_linear_one",
                  "tests/test_detector_model.py::test_a_lower_log_loss_without_clearly_more_correct_predictions_keeps_the_linear_family",
                  "tests/test_detector_model.py::test_the_same_difference_on_every_row_is_decisive_not_zero",
                  "tests/test_detector_model.py::test_too_few_trusted_rows_or_classes_keep_the_linear_family_without_a_choice",
                  "tests/test_detector_model.py::test_the_choice_is_made_on_a_seeded_sample_of_at_most_5000_trusted_rows",
                  "tests/test_detector_model.py::test_the_family_holds_only_inside_the_block_and_the_memo_keeps_one_choice",
                  "tests/test_detector_model.py::test_checks_of_the_same_trusted_rows_choose_once",
                  "tests/test_fix_newuser.py::test_the_choice_says_whose_rows_it_was_measured_on",
                  # knn_consistency on ties, the trusted rows scored against the candidate's (break-it r18 F1), and the
                  # survivors of its first mutation run (twentieth session, branch r33knn-s33)
                  "tests/test_knn_ties_r18.py", "tests/test_knn_mutants_s33.py"],
}
DEFAULT = ["manifest", "dataset", "ledger", "attacks", "tamper", "storage", "guards", "detectors"]


def _env() -> dict[str, str]:
    """The environment of every mutmut and generator run: no bytecode, and one BLAS/OpenMP thread per process.

    mutmut forks its workers from a process that has imported numpy/scikit-learn; with threaded BLAS a
    forked child can wait forever on a lock held by a thread that was not copied (the guards run of the
    tenth session hung both workers at 944 of 1,275 mutants; with one thread per process no run hung).
    A value the caller set is kept.
    """
    return {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def stage(module: str, where: Path | None = None, source: str | None = None) -> Path:
    """The installed layout, with mutmut configured for one module (``source``: another version of it)."""
    where = where or STAGE / module
    shutil.rmtree(where, ignore_errors=True)
    pkg = where / "labelguard"
    shutil.copytree(ROOT / "labelguard", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("tasks", "flows", "schemas", "data"):
        shutil.copytree(ROOT / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    target = pkg / "tasks" / f"{module}.py"
    target.write_text(undecorate(source if source is not None else target.read_text()))
    configure(where, module)
    return where


def configure(where: Path, module: str) -> None:
    # MUTATION_TESTS="a.py b.py::t" narrows the selection (e.g. to confirm kills by one new test file
    # quickly): fewer tests can only kill fewer mutants, so a kill under it is a kill.
    tests = os.environ["MUTATION_TESTS"].split() if os.environ.get("MUTATION_TESTS") else MODULES[module]
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


def undecorate(source: str) -> str:
    """The registry decorators written as plain calls after each function, so mutmut mutates the function.

    mutmut 3 never mutates a decorated function (a decorator runs at definition time), so every
    guard and attack strategy registered by ``@register_*("name")`` would go unmutated. In the
    staged copy only, ``@register_guard("x")\ndef f(...)`` becomes ``def f(...)`` followed by
    ``f = register_guard("x")(f)``: the registry holds the same function, registered in the same order.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []  # (decorator first line, decorator last line, function last line, name, decorator text), 1-based
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(node.decorator_list) == 1:
            deco = node.decorator_list[0]
            if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) and deco.func.id.startswith("register_"):
                edits.append((deco.lineno, deco.end_lineno, node.end_lineno, node.name, ast.get_source_segment(source, deco)))
    for first, last, end, name, text in reversed(edits):
        lines.insert(end, f"{name} = {text}({name})\n")
        del lines[first - 1 : last]
    return "".join(lines)


def run(module: str, max_children: int) -> dict:
    where = stage(module)
    env = _env()
    started = _utc()
    subprocess.run([MUTMUT, "run", "--max-children", str(max_children)], cwd=where, env=env, check=False)
    return {**collect(module), **_provenance(started)}


def _utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _provenance(started: str) -> dict:
    """Which code a full run judged (``git describe --dirty``: a figure is for one commit) and when it ran."""
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    return {"commit": commit or None, "started": started, "finished": _utc()}


GENERATE = """
from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants, set_mutant_under_test, setup_source_paths
set_mutant_under_test("mutant_generation")
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(2)
"""


def mutant_names(module: str, where: Path | None = None) -> list[str]:
    """Every mutant mutmut generated for ``module``, by the name ``mutmut run NAME`` takes."""
    src = ((where or STAGE / module) / "mutants" / "labelguard" / "tasks" / f"{module}.py").read_text()
    names: list[str] = []

    def walk(node: ast.AST) -> None:  # a method's mutants are named xǁClassǁmethod__mutmut_N already
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in child.name and not child.name.endswith("_orig"):
                names.append(f"labelguard.tasks.{module}.{child.name}")
            elif isinstance(child, ast.ClassDef):
                walk(child)

    walk(ast.parse(src))
    return names


# Samples drawn in earlier sessions, as (commit whose tasks/<module>.py they mutated, seed, size);
# size None is a full run (every mutant). ``--fresh`` leaves out every mutant drawn in them.
# Not expressible as (commit, seed, size), so not left out by ``--fresh`` (see bench/RESULTS.md): the sixth and
# seventh sessions' seed-13 ``--fresh`` draws (dataset, storage, attacks; detectors at c1946ea). Storage's full
# run is listed at e910578 (detectors' at 3dc1de7: stopped at 1,473 of 1,528, the rest judged after): the seventh session judged 508 of its mutants at 4db5a97 (every function e910578 left
# unchanged) and the eighth the other 200 at e910578 (``--functions``); manifest's full runs at 0fe0eff and 4db5a97.
EARLIER: dict[str, list[tuple[str, int | None, int | None]]] = {
    "dataset": [("7ccde47", 1, 25), ("e16291c", 2, 60), ("925359f", 3, 60), ("76e471b", 11, 40), ("0fe0eff", 12, 40)],
    "storage": [("7ccde47", 1, 25), ("e16291c", 2, 60), ("925359f", 3, 60), ("54dbcc9", 11, 40), ("0fe0eff", 12, 40), ("e910578", None, None)],
    "manifest": [("3a7e391", None, None), ("0fe0eff", None, None), ("4db5a97", None, None)],
    "detectors": [("e16291c", 1, 60), ("76e471b", 11, 40), ("0fe0eff", 12, 40), ("3dc1de7", None, None)],
    "attacks": [("925359f", 3, 60), ("76e471b", 11, 40), ("0fe0eff", 12, 40)],
}


def mutation_keys(module: str, where: Path) -> dict[str, tuple]:
    """Each generated mutant's identity across versions: its function and the lines it changes.

    mutmut numbers a function's mutants in order, so a number means another mutation once the
    function changes; the changed lines do not. Two versions' mutants with the same key are the
    same mutation of the same line of the same function (the rest of the function may differ).
    """
    src = (where / "mutants" / "labelguard" / "tasks" / f"{module}.py").read_text()
    lines = src.splitlines()  # once: ast.get_source_segment splits the whole file on every call
    funcs: dict[str, str] = {}

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in child.name:
                funcs[child.name] = "\n".join(lines[child.lineno - 1 : child.end_lineno])
            elif isinstance(child, ast.ClassDef):
                walk(child)

    walk(ast.parse(src))
    keys = {}
    for name, text in funcs.items():
        base, number = name.rsplit("__mutmut_", 1)
        if number == "orig":
            continue
        orig = funcs.get(f"{base}__mutmut_orig", "").replace(f"{base}__mutmut_orig", base).splitlines()
        mutated = text.replace(name, base).splitlines()
        changed = tuple(ln for ln in difflib.unified_diff(orig, mutated, lineterm="", n=0) if ln[:1] in "+-" and not ln.startswith(("+++", "---")))
        keys[f"labelguard.tasks.{module}.{name}"] = (base, changed)
    return keys


def earlier_keys(module: str) -> tuple[set[tuple], list[dict]]:
    """The keys of every mutant drawn in ``EARLIER`` samples, each regenerated from its commit."""
    env = _env()
    drawn: set[tuple] = set()
    record = []
    for commit, seed, size in EARLIER.get(module, []):
        source = subprocess.run(["git", "show", f"{commit}:tasks/{module}.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        where = stage(module, STAGE / f"{module}-at-{commit}", source)
        subprocess.run([sys.executable, "-c", GENERATE], cwd=where, env=env, check=True, capture_output=True)
        names = mutant_names(module, where)
        keys = mutation_keys(module, where)
        picked = names if size is None else random.Random(seed).sample(names, min(size, len(names)))
        drawn |= {keys[n] for n in picked}
        record.append({"commit": commit, "seed": seed, "size": len(picked), "of": len(names)})
        shutil.rmtree(where, ignore_errors=True)
    return drawn, record


def run_sample(module: str, size: int, seed: int, max_children: int, fresh: bool = False) -> dict:
    """Generate ``module``'s mutants, then run a uniform random sample of ``size`` of them.

    ``fresh``: drawn only from mutants no earlier sample (``EARLIER``) drew, matched by
    ``mutation_keys``, so no test was written against any of them.
    """
    drawn, record = earlier_keys(module) if fresh else (set(), [])
    where = stage(module)
    env = _env()
    subprocess.run([sys.executable, "-c", GENERATE], cwd=where, env=env, check=True, capture_output=True)
    names = mutant_names(module)
    keys = mutation_keys(module, where)
    pool = [n for n in names if keys[n] not in drawn]
    picked = sorted(random.Random(seed).sample(pool, min(size, len(pool))))
    info = {"size": len(picked), "of": len(names), "seed": seed}
    if fresh:
        info.update({"never_drawn": len(pool), "earlier": record})
    (where / "sample.json").write_text(json.dumps(info))
    subprocess.run([MUTMUT, "run", "--max-children", str(max_children), *picked], cwd=where, env=env, check=False)
    return collect(module)


def run_names(module: str, names: list[str], max_children: int, where: Path | None = None) -> dict:
    """Stage ``module`` afresh from the current code and run only the named mutants (a survivor list).

    mutmut numbers a function's mutants in the order it generates them, so a name from an older run
    is the same mutation only while that function is unchanged: each mutant's diff is recorded
    (the lines ``mutmut show`` prints) so the list can be read against the old one; names no longer generated are listed.
    """
    names = [n if n.startswith("labelguard.") else f"labelguard.tasks.{module}.{n}" for n in names]
    env = _env()
    if where is None:  # ``where``: staged and generated already
        where = stage(module)
        subprocess.run([sys.executable, "-c", GENERATE], cwd=where, env=env, check=True, capture_output=True)
    exist = set(mutant_names(module))
    picked, gone = [n for n in names if n in exist], [n for n in names if n not in exist]
    if picked:
        subprocess.run([MUTMUT, "run", "--max-children", str(max_children), *picked], cwd=where, env=env, check=False)
    return outcome(module, where, picked, gone)


def outcome(module: str, where: Path, picked: list[str], gone: list[str]) -> dict:
    """What mutmut judged of the ``picked`` mutants in ``where`` (also for a run whose script was stopped after mutmut)."""
    env = _env()
    status = {n.split(" ")[0]: ("survived" if " " not in n else n.split("(")[1].rstrip(")")) for n in collect(module)["survived"]}
    # a mutant the run never judged (stopped, or its clean test run failed) is neither killed nor a survivor
    listing = subprocess.run([MUTMUT, "results", "--all", "true"], cwd=where, env=env, capture_output=True, text=True, check=False).stdout
    unjudged = {ln.rsplit(":", 1)[0].strip() for ln in listing.splitlines() if ln.strip().endswith(": not checked")}
    # the changed lines ``mutmut show`` prints, read from the generated source in one parse: one ``mutmut show``
    # process per mutant took 7.5 s each at load 8 (1.2 s of CPU), 40 minutes for 332 mutants (the same lines: all 71 compared)
    keys = mutation_keys(module, where)
    diffs = {n: list(keys[n][1]) for n in picked}
    return {"names": picked, "not generated": gone, "survived": [n for n in picked if n in status],
            "killed": [n for n in picked if n not in status and n not in unjudged],
            "not checked": [n for n in picked if n in unjudged], "diffs": diffs}


def function_mutants(module: str, specs: list[str], where: Path | None = None) -> list[str]:
    """The names of every mutant of the functions ``specs`` name (``Class.method`` or ``function``, ``:FIRST`` to start at a number)."""
    wanted = {}
    for spec in specs:
        func, _, first = spec.partition(":")
        mangled = "xǁ" + "ǁ".join(func.split(".")) if "." in func else f"x_{func}"
        wanted[mangled] = int(first) if first else 1
    names = mutant_names(module, where)
    found = {n.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0] for n in names}
    if missing := [f for f in wanted if f not in found]:
        raise SystemExit(f"no mutants of {', '.join(missing)} in tasks/{module}.py")
    return [n for n in names if (base := n.rsplit(".", 1)[1].rsplit("__mutmut_", 1))[0] in wanted and int(base[1]) >= wanted[base[0]]]


def run_functions(module: str, specs: list[str], max_children: int) -> dict:
    """Every mutant of the named functions on the current code: a first pass, with its Wilson interval."""
    where = stage(module)
    env = _env()
    subprocess.run([sys.executable, "-c", GENERATE], cwd=where, env=env, check=True, capture_output=True)
    out = run_names(module, function_mutants(module, specs, where), max_children, where)
    return {**function_rates(specs, out), "module_mutants": len(mutant_names(module, where))}


def function_rates(specs: list[str], out: dict) -> dict:
    judged, killed = len(out["names"]) - len(out["not checked"]), len(out["killed"])  # out["killed"]: the names
    lo, hi = wilson(killed, judged)
    return {"functions": specs, **out, "judged": judged, "kill_rate": killed / judged if judged else None, "wilson95": [lo, hi]}


def rerun(module: str, max_children: int, before: dict | None) -> dict:
    """Run a finished run's survivors again against the tests as they are now (copied in afresh).

    The result keeps the first pass (``before``): tests written after seeing survivors make the
    re-run's rate an optimistic estimate for a sample; the first pass is the unbiased one.
    """
    where = STAGE / module
    first = collect(module)  # the survivors as the staged run left them
    if before and "first_pass" in before and before.get("sample") == first.get("sample"):
        first["first_pass"] = before["first_pass"]  # a second re-run keeps the first pass
        # and starts from the last re-run's outcome: mutmut 3 keeps only the mutants a re-run named (the
        # others read "not checked"), so collect() would count the earlier kills as never judged
        first.update({k: before[k] for k in ("counts", "judged", "killed", "kill_rate", "survived")})
    names = [n.split(" ")[0] for n in first["survived"]]
    shutil.rmtree(where / "tests")
    shutil.copytree(ROOT / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(where / "mutants" / "tests", ignore_errors=True)  # mutmut runs the tests from its own copy
    shutil.copytree(ROOT / "tests", where / "mutants" / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    configure(where, module)
    env = _env()
    if names:
        subprocess.run([MUTMUT, "run", "--max-children", str(max_children), *names], cwd=where, env=env, check=False)
    after = collect(module)
    # a mutant the re-run never judged (its clean test run failed, it was stopped) is not a kill
    listing = subprocess.run([MUTMUT, "results", "--all", "true"], cwd=where, env=env, capture_output=True, text=True, check=False).stdout
    unjudged = {ln.rsplit(":", 1)[0].strip() for ln in listing.splitlines() if ln.strip().endswith(": not checked")}
    after["survived"] += [f"{n} (not checked)" for n in names if n in unjudged]
    return combine(first, after, names)


def combine(first: dict, after: dict, names: list[str]) -> dict:
    """The first pass with its survivors' new outcomes: mutmut keeps only the re-run mutants' results."""
    still = [n for n in after["survived"] if n.split(" ")[0] in names]
    killed = first["killed"] + len(names) - len(still)
    keep = first.get("first_pass") or {k: first[k] for k in ("counts", "judged", "killed", "kill_rate", "survived")}
    counts = {"killed": killed, "survived": len(still), **({"not checked": first["counts"]["not checked"]} if "not checked" in first["counts"] else {})}
    return {**first, "counts": counts, "killed": killed, "kill_rate": killed / first["judged"], "survived": still, "first_pass": keep, "rerun": names}


def wilson(killed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a kill rate measured on ``n`` sampled mutants."""
    if n == 0:
        return (0.0, 1.0)
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def collect(module: str) -> dict:
    """Read the outcome of a finished run from its staged folder."""
    where = STAGE / module
    env = _env()
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
    sample = where / "sample.json"  # written by a sampled run: the rate is an estimate
    return {"module": module, "tests": MODULES[module], "counts": counts, "judged": judged, "killed": killed,
            "kill_rate": killed / judged if judged else None, "survived": survivors,
            **({"sample": json.loads(sample.read_text())} if sample.exists() else {})}


USAGE = """usage: python bench/mutation.py [MODULE ...]
       python bench/mutation.py --report [MODULE ...] | --rerun [MODULE ...]
       python bench/mutation.py --sample N [--seed S] [--fresh] [MODULE ...]
       python bench/mutation.py --names MODULE NAME ... | --functions MODULE FUNC[:FIRST] ...
MODULE: {modules} (none: all of them)"""
OPTIONS = ("--report", "--rerun", "--sample", "--seed", "--fresh", "--names", "--functions", "--help")


def check_args(argv: list[str]) -> None:
    """Refuse what ``main`` would misread before anything is staged: ``--help`` is not a module to mutate."""
    usage = USAGE.format(modules=", ".join(MODULES))

    def refuse(problem: str) -> None:
        print(f"error: {problem}\n{usage}", file=sys.stderr)
        raise SystemExit(2)

    if "-h" in argv or "--help" in argv:
        print(usage)
        raise SystemExit(0)
    head, rest = (argv[0], argv[1:]) if argv and argv[0] in ("--report", "--rerun", "--names", "--functions") else (None, argv)
    if head is None and rest[:1] == ["--sample"]:
        for flag, needs_int in (("--sample", True), ("--seed", True), ("--fresh", False)):
            if rest[:1] == [flag]:
                if needs_int and (len(rest) < 2 or not rest[1].isdigit()):
                    refuse(f"{flag} needs a whole number after it")
                rest = rest[2:] if needs_int else rest[1:]
    if head in ("--names", "--functions"):
        if len(rest) < 2:
            refuse(f"{head} needs a module and at least one {'mutant name' if head == '--names' else 'function'}")
        modules, rest = rest[:1], rest[1:]
    else:
        modules, rest = rest, []
    for arg in modules + rest:
        if arg.startswith("-"):
            refuse(f"unknown option or option out of place: {arg} (options: {', '.join(OPTIONS)})")
    for module in modules:
        if module not in MODULES:
            refuse(f"unknown module: {module} (modules: {', '.join(MODULES)})")


def _recorded(module: str, field: str, out: dict) -> dict:
    """``out`` kept in bench/results/mutation.json under ``module``'s ``field``, beside the module's other runs."""
    path = OUT / "mutation.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    entry = current.setdefault(module, {})
    if field in entry:  # a run of other functions or names does not replace the last one: kept beside it, oldest first
        entry.setdefault(f"earlier_{field}s", []).append(entry[field])
    entry[field] = out
    path.write_text(json.dumps(current, indent=1))
    return out


# what runs of named functions or mutants left in a module's record (and why survivors are equivalent): not a full run's
KEPT = ("functions_run", "earlier_functions_runs", "survivors_rerun", "earlier_survivors_reruns", "equivalent", "rest_run", "earlier_runs")


def replacing(before: dict | None, new: dict) -> dict:
    """``new`` (a full or sampled run) as the module's record, ``before`` kept: its ``KEPT`` records as they were, the rest
    (the run ``new`` replaces: counts, survivors, first pass) appended to ``earlier_runs``, oldest first."""
    if not before:
        return new
    old = {k: v for k, v in before.items() if k not in KEPT}
    return {**new, **{k: before[k] for k in KEPT if k in before}, "earlier_runs": [*before.get("earlier_runs", []), *([old] if old else [])]}


def write_md(results: dict) -> str:
    """``bench/results/mutation.md``: the kill rate per module, its survivors, and per function for ``--functions`` runs."""
    lines = ["| module | mutants | killed | not killed | kill rate | of which not run by any selected test |", "|---|---:|---:|---:|---:|---|"]
    results = {m: r for m, r in results.items() if "counts" in r}  # a module with only a --names re-run has no rate
    for module, r in results.items():
        skip = ("killed", "survived", "timeout", "segfault", *(("not checked",) if r.get("sample") else ()))
        other = {k: v for k, v in r["counts"].items() if k not in skip}  # no tests, suspicious, skipped
        rate = f"{r['kill_rate']:.1%}" if r["kill_rate"] is not None else "—"
        if r.get("sample"):
            lo, hi = wilson(r["killed"], r["judged"])
            rate += f" (sample of {r['sample']['size']} of {r['sample']['of']}, seed {r['sample']['seed']}; 95 % CI {lo:.1%}-{hi:.1%})"
        if r.get("first_pass"):  # survivors re-run after tests were written for them: the first pass is the estimate
            f = r["first_pass"]
            lo, hi = wilson(f["killed"], f["judged"])
            rate += f"; first pass {f['killed']}/{f['judged']} = {f['kill_rate']:.1%} (95 % CI {lo:.1%}-{hi:.1%}), then {len(r.get('rerun', []))} survivors re-run"
        if r.get("commit"):
            rate += f" (at {r['commit']}, {r.get('finished', '')})"
        lines.append(f"| tasks/{module}.py | {r['judged']} | {r['killed']} | {len(r['survived'])} | {rate} | {other or ''} |")
    md = "\n".join(lines) + "\n"
    for module, r in results.items():
        if r["survived"]:
            md += f"\nSurvivors in tasks/{module}.py (`cd build/mutation/{module} && mutmut show NAME`):\n" + "\n".join(f"- `{n}`" for n in r["survived"]) + "\n"
    for module, r in results.items():
        md += function_table(module, r)
    (OUT / "mutation.md").write_text(md)
    return md


def _function(name: str) -> str:
    base = name.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]
    return ".".join(base.split("ǁ")[1:]) if base.startswith("xǁ") else base.removeprefix("x_")


def function_table(module: str, r: dict) -> str:
    """Per function judged whole by ``--functions`` runs: the first pass of its first run, then (on the code of its
    latest run: a function changed by a fix is run whole again) what is killed after its survivors' ``--names``
    re-runs, the survivors explained as equivalent (``equivalent`` in the module's record: name -> why), and what is
    left; then the module total so far and how many of its mutants were never judged."""
    runs = [*r.get("earlier_functions_runs", []), *([r["functions_run"]] if "functions_run" in r else [])]
    if not runs or "equivalent" not in r:  # survivors explained only in bench/RESULTS.md would read as left
        return ""
    later: dict[str, str] = {}  # a survivor's outcome in the last re-run that named it
    for rr in [*r.get("earlier_survivors_reruns", []), *([r["survivors_rerun"]] if "survivors_rerun" in r else [])]:
        later.update({n: "killed" for n in rr["killed"]} | {n: "survived" for n in rr["survived"]})
    equivalent = r.get("equivalent", {})
    first: dict[str, dict] = {}
    latest: dict[str, dict] = {}

    def number(name: str) -> int:
        return int(name.rsplit("__mutmut_", 1)[1])

    def resumed(earlier: dict, one: dict, start: int) -> dict:
        """``one`` (mutants ``start`` on) with ``earlier``'s mutants before ``start``: one first pass of the whole function."""
        keep = {k: [n for n in earlier[k] if number(n) < start] for k in ("names", "judged", "killed")}
        return {k: keep[k] + one[k] for k in keep} | {"mutants": len(keep["names"]) + one["mutants"]}

    for run in runs:
        starts = {f.partition(":")[0]: int(f.partition(":")[2]) for f in run.get("functions", []) if f.partition(":")[2]}
        for func in {_function(n) for n in run["names"]}:
            names = [n for n in run["names"] if _function(n) == func]
            judged = [n for n in names if n not in run["not checked"]]
            one = {"mutants": len(names), "names": names, "judged": judged, "killed": [n for n in judged if n in run["killed"]]}
            if func in starts:  # FUNC:FIRST resumes a stopped run: the same code's mutants before FIRST were judged there
                if func in first and not any(number(n) >= starts[func] for n in first[func]["judged"]):
                    first[func] = resumed(first[func], one, starts[func])
                one = resumed(latest[func], one, starts[func]) if func in latest else one
            if one["judged"] and func not in first:  # the first run that judged any of its mutants, not one stopped before them
                first[func] = one
            if one["judged"] or func not in latest:  # a later run stopped before a function leaves its last judged run standing
                latest[func] = one
    first.update({func: f for func, f in latest.items() if func not in first})
    funcs = {}
    for func, f in latest.items():
        after = f["killed"] + [n for n in f["judged"] if n not in f["killed"] and later.get(n) == "killed"]
        left = [n for n in f["judged"] if n not in after]
        funcs[func] = {"mutants": f["mutants"], "first": len(first[func]["killed"]), "first_judged": len(first[func]["judged"]),
                       "after": len(after), "judged": len(f["judged"]), "equivalent": sum(n in equivalent for n in left),
                       "left": [n for n in left if n not in equivalent]}
    lines = [f"\nPer function of tasks/{module}.py judged whole (`--functions`): first pass, then after tests written for its survivors:\n",
             "| function | mutants | first pass | after tests | equivalent | left |", "|---|---:|---:|---:|---:|---|"]

    def row(name: str, f: dict, left: str) -> str:
        lo, hi = wilson(f["first"], f["first_judged"])
        alo, ahi = wilson(f["after"], f["judged"])
        return (f"| {name} | {f['mutants']} | {f['first']}/{f['first_judged']} = {f['first'] / f['first_judged']:.1%} ({lo:.1%}-{hi:.1%}) | "
                f"{f['after']}/{f['judged']} = {f['after'] / f['judged']:.1%} ({alo:.1%}-{ahi:.1%}) | {f['equivalent']} | {left} |")

    unrun = sorted(func for func, f in funcs.items() if not f["first_judged"])  # a run stopped before reaching them
    funcs = {func: f for func, f in funcs.items() if f["first_judged"]}
    for func, f in sorted(funcs.items(), key=lambda kv: -kv[1]["mutants"]):
        lines.append(row(f"`{func}`", f, ", ".join(n.rsplit("__mutmut_", 1)[1] for n in f["left"])))
    total = {k: sum(f[k] for f in funcs.values()) for k in ("mutants", "first", "first_judged", "after", "judged", "equivalent")}
    lines.append(row(f"**{len(funcs)} functions**", total, str(sum(len(f["left"]) for f in funcs.values()))))
    of = next((run["module_mutants"] for run in reversed(runs) if "module_mutants" in run), None)
    if of:
        lines.append(f"\n{total['judged']} of the module's {of} mutants judged this way; {of - total['judged']} never judged function by function.")
    if unrun:
        lines.append(f"\nNamed in a `--functions` run that was stopped before any of their mutants was judged: {', '.join(f'`{u}`' for u in unrun)}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    check_args(argv)
    if argv[:1] == ["--names"]:  # --names MODULE NAME...: re-run a survivor list on the current code
        module, names = argv[1], argv[2:]
        OUT.mkdir(parents=True, exist_ok=True)
        out = _recorded(module, "survivors_rerun", run_names(module, names, int(os.environ.get("MUTATION_JOBS", "2"))))
        write_md(json.loads((OUT / "mutation.json").read_text()))
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return
    if argv[:1] == ["--functions"]:  # --functions MODULE FUNC[:FIRST]...: every mutant of those functions
        module, specs = argv[1], argv[2:]
        OUT.mkdir(parents=True, exist_ok=True)
        out = _recorded(module, "functions_run", run_functions(module, specs, int(os.environ.get("MUTATION_JOBS", "2"))))
        write_md(json.loads((OUT / "mutation.json").read_text()))
        print(f"tasks/{module}.py, {' '.join(specs)}: {len(out['killed'])}/{out['judged']} killed"
              f" (95 % CI {out['wilson95'][0]:.1%}-{out['wilson95'][1]:.1%}); survived:")
        print("\n".join(f"- {n}" for n in out["survived"]) or "(none)")
        return
    report_only = argv[:1] == ["--report"]  # re-read finished runs under build/mutation/ without running
    again = argv[:1] == ["--rerun"]  # run the survivors of finished runs again with the current tests
    sample = seed = None
    fresh = False
    if argv[:1] == ["--sample"]:
        sample, argv = int(argv[1]), argv[2:]
        if argv[:1] == ["--seed"]:
            seed, argv = int(argv[1]), argv[2:]
        if argv[:1] == ["--fresh"]:  # leave out every mutant an earlier sample drew (EARLIER)
            fresh, argv = True, argv[1:]
    modules = (argv[1:] if report_only or again else argv) or DEFAULT
    max_children = int(os.environ.get("MUTATION_JOBS", "2"))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "mutation.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for module in modules:
        if (report_only or again) and not (STAGE / module / "mutants").is_dir():
            continue
        if report_only:
            results[module] = {**results.get(module, {}), **collect(module)}
        elif again:  # the re-run keeps the first pass it completes; the other records are kept as they were
            before = results.get(module)
            results[module] = {**{k: before[k] for k in KEPT if k in (before or {})}, **rerun(module, max_children, before)}
        elif sample:
            results[module] = replacing(results.get(module), run_sample(module, sample, seed if seed is not None else 0, max_children, fresh))
        else:
            results[module] = replacing(results.get(module), run(module, max_children))
        # read again before writing: runs of other modules in parallel may have finished meanwhile
        current = json.loads(path.read_text()) if path.exists() else {}
        current[module] = results[module]
        results = current
        path.write_text(json.dumps(results, indent=1))
    print(write_md(results))


if __name__ == "__main__":
    main(sys.argv[1:])
