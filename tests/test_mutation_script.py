"""bench/mutation.py reads its arguments before staging anything: --help is not a module to mutate."""

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
