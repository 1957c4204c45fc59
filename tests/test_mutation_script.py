"""bench/mutation.py reads its arguments before staging anything: --help is not a module to mutate."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "mutation.py"
MODULES = "manifest, dataset, ledger, attacks, tamper, storage, guards, detectors"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_the_usage_and_runs_nothing(flag):
    out = run(flag)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.splitlines() == [
        "usage: python bench/mutation.py [MODULE ...]",
        "       python bench/mutation.py --report [MODULE ...] | --rerun [MODULE ...]",
        "       python bench/mutation.py --sample N [--seed S] [--fresh] [MODULE ...]",
        "       python bench/mutation.py --names MODULE NAME ... | --functions MODULE FUNC[:FIRST] ...",
        f"MODULE: {MODULES} (none: all of them)",
    ]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--bogus"], "error: unknown option or option out of place: --bogus (options: --report, --rerun, --sample, --seed,"
                      " --fresh, --names, --functions, --help)"),
        (["attacks", "--fresh"], "error: unknown option or option out of place: --fresh (options: --report, --rerun, --sample,"
                                 " --seed, --fresh, --names, --functions, --help)"),
        (["atacks"], f"error: unknown module: atacks (modules: {MODULES})"),
        (["--functions", "tampr", "tamper_dataset"], f"error: unknown module: tampr (modules: {MODULES})"),
        (["--sample", "forty", "attacks"], "error: --sample needs a whole number after it"),
        (["--sample", "40", "--seed"], "error: --seed needs a whole number after it"),
        (["--names", "attacks"], "error: --names needs a module and at least one mutant name"),
        (["--functions", "storage"], "error: --functions needs a module and at least one function"),
    ],
)
def test_a_misread_argument_is_refused_with_one_line_and_the_usage(args, problem):
    out = run(*args)
    assert (out.returncode, out.stdout) == (2, "")
    lines = out.stderr.splitlines()
    assert lines[0] == problem
    assert lines[1] == "usage: python bench/mutation.py [MODULE ...]"
    assert len(lines) == 6


def test_the_function_table_of_a_stopped_run_leaves_out_what_it_never_judged():
    """A --functions run stopped before one of its functions: that function is named, not divided by zero, and the
    total counts judged mutants (4 of a 5-mutant function judged, 2 not reached)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import mutation
    finally:
        sys.path.remove(str(SCRIPT.parent))
    p = "labelguard.tasks.dataset."
    names = [f"{p}x_f__mutmut_{i}" for i in range(1, 6)] + [f"{p}x_g__mutmut_{i}" for i in (1, 2)]
    run = {"names": names, "killed": names[:3], "survived": [names[3]], "not checked": [names[4], *names[5:]], "module_mutants": 20}
    table = mutation.function_table("dataset", {"functions_run": run, "equivalent": {}})
    assert table.splitlines()[5:] == [
        "| `f` | 5 | 3/4 = 75.0% (30.1%-95.4%) | 3/4 = 75.0% (30.1%-95.4%) | 0 | 4 |",
        "| **1 functions** | 5 | 3/4 = 75.0% (30.1%-95.4%) | 3/4 = 75.0% (30.1%-95.4%) | 0 | 1 |",
        "",
        "4 of the module's 20 mutants judged this way; 16 never judged function by function.",
        "",
        "Named in a `--functions` run that was stopped before any of their mutants was judged: `g`.",
    ]


def test_a_resumed_run_completes_the_stopped_one_and_a_function_it_never_reached_gets_its_first_pass_later():
    """Run A judged f's mutants 1-2 and none of g's (stopped); run B resumed f from 3 (``f:3``) and ran g whole: f's
    first pass is 1-2 from A with 3-5 from B, g's first pass is B's, and a later re-run's kill of f's 2 counts after."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import mutation
    finally:
        sys.path.remove(str(SCRIPT.parent))
    p = "labelguard.tasks.dataset."
    f = [f"{p}x_f__mutmut_{i}" for i in range(1, 6)]
    g = [f"{p}x_g__mutmut_{i}" for i in (1, 2)]
    a = {"functions": ["f", "g"], "names": f + g, "killed": [f[0]], "survived": [f[1]], "not checked": f[2:] + g}
    b = {"functions": ["f:3", "g"], "names": f[2:] + g, "killed": [f[2], f[3], g[0]], "survived": [f[4], g[1]], "not checked": [],
         "module_mutants": 20}
    rerun = {"names": [f[1]], "killed": [f[1]], "survived": []}
    table = mutation.function_table("dataset", {"earlier_functions_runs": [a], "functions_run": b, "survivors_rerun": rerun, "equivalent": {}})
    assert table.splitlines()[5:] == [
        "| `f` | 5 | 3/5 = 60.0% (23.1%-88.2%) | 4/5 = 80.0% (37.6%-96.4%) | 0 | 5 |",
        "| `g` | 2 | 1/2 = 50.0% (9.5%-90.5%) | 1/2 = 50.0% (9.5%-90.5%) | 0 | 2 |",
        "| **2 functions** | 7 | 4/7 = 57.1% (25.0%-84.2%) | 5/7 = 71.4% (35.9%-91.8%) | 0 | 2 |",
        "",
        "7 of the module's 20 mutants judged this way; 13 never judged function by function.",
    ]


def test_a_full_run_keeps_the_module_s_earlier_records_beside_it(tmp_path, monkeypatch):
    """``make mutation MODULES=guards`` on a module with function runs and a re-run behind it: the new run is the record,
    the function runs, survivor re-runs and equivalents are kept as they were, and the run it replaces goes to
    ``earlier_runs`` (it replaced the whole record: the per-function tables and explanations were lost)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import mutation
    finally:
        sys.path.remove(str(SCRIPT.parent))
    before = {"module": "guards", "counts": {"killed": 926, "survived": 18}, "judged": 944, "killed": 926, "survived": ["a"],
              "first_pass": {"killed": 841}, "rerun": ["a", "b"], "functions_run": {"names": ["x"]}, "rest_run": {"n": 1},
              "equivalent": {"a": "why"}}
    other = {"module": "ledger", "judged": 195}
    (tmp_path / "mutation.json").write_text(json.dumps({"guards": before, "ledger": other}))
    new = {"module": "guards", "counts": {"killed": 3, "survived": 1}, "judged": 4, "killed": 3, "kill_rate": 0.75, "survived": ["c"]}
    monkeypatch.setattr(mutation, "OUT", tmp_path)
    monkeypatch.setattr(mutation, "run", lambda module, jobs: dict(new))
    monkeypatch.setattr(mutation, "write_md", lambda results: "")
    mutation.main(["guards"])
    first = json.loads((tmp_path / "mutation.json").read_text())
    old = {k: before[k] for k in ("module", "counts", "judged", "killed", "survived", "first_pass", "rerun")}
    assert first == {"guards": {**new, "functions_run": {"names": ["x"]}, "equivalent": {"a": "why"}, "rest_run": {"n": 1},
                                "earlier_runs": [old]}, "ledger": other}
    mutation.main(["guards"])  # a second full run: the first one joins the earlier ones, oldest first
    second = json.loads((tmp_path / "mutation.json").read_text())
    assert second["guards"]["earlier_runs"] == [old, new]
    assert {k: second["guards"][k] for k in new} == new


def test_a_later_run_stopped_before_a_function_judged_earlier_keeps_that_functions_figures():
    """Run A judged g whole; run B named g again but was stopped before any of g's mutants (the seventeenth session's
    dataset run and ``read_manifest``): g keeps A's figures instead of dividing by B's zero judged."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import mutation
    finally:
        sys.path.remove(str(SCRIPT.parent))
    p = "labelguard.tasks.dataset."
    f = [f"{p}x_f__mutmut_{i}" for i in (1, 2)]
    g = [f"{p}x_g__mutmut_{i}" for i in (1, 2)]
    a = {"functions": ["g"], "names": g, "killed": [g[0]], "survived": [g[1]], "not checked": []}
    b = {"functions": ["f", "g"], "names": f + g, "killed": f, "survived": [], "not checked": g, "module_mutants": 20}
    table = mutation.function_table("dataset", {"earlier_functions_runs": [a], "functions_run": b, "equivalent": {}})
    assert table.splitlines()[5:] == [
        "| `g` | 2 | 1/2 = 50.0% (9.5%-90.5%) | 1/2 = 50.0% (9.5%-90.5%) | 0 | 2 |",
        "| `f` | 2 | 2/2 = 100.0% (34.2%-100.0%) | 2/2 = 100.0% (34.2%-100.0%) | 0 |  |",
        "| **2 functions** | 4 | 3/4 = 75.0% (30.1%-95.4%) | 3/4 = 75.0% (30.1%-95.4%) | 0 | 1 |",
        "",
        "4 of the module's 20 mutants judged this way; 16 never judged function by function.",
    ]
