"""Issue 13's named breakages (`make breakages`, bench/breakages.py) are text patches of the modules; a refactor that
moves the patched text leaves a patch `stale`, and `make breakages` then checks nothing for it. Three had gone stale
unnoticed by the twentieth session (trust-check-removed, sidecar-misses-added-rows) or no longer broke anything
(csv-label-as-float: `_cell`'s spelling is overridden by the file's own spelling of each class). This keeps every patch
applying to the code as it is, and each one a real change of it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("lg_breakages", ROOT / "bench" / "breakages.py")
breakages = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = breakages  # its dataclass looks its module up
_spec.loader.exec_module(breakages)


@pytest.mark.parametrize("b", breakages.BREAKAGES, ids=lambda b: b.name)
def test_every_named_breakage_applies_to_the_code_as_it_is(b):
    text = (ROOT / b.path).read_text()
    if b.old == breakages.END:
        assert b.new.strip()
        return
    assert text.count(b.old) == 1, f"{b.name}: the patched text occurs {text.count(b.old)} times in {b.path}: update its patch"
    assert b.new != b.old


def test_the_breakages_cover_every_kind_the_issue_names():
    names = {b.name for b in breakages.BREAKAGES}
    assert {"duplicate_conflicts-always-passes", "model_gate-always-passes", "label_contract-always-passes", "class_balance-always-passes",
            "trust-check-removed", "pipeline-prechecks-removed", "budget-one-short", "cluster-ignores-seed", "tamper-drops-row-groups",
            "tamper-reverses-rows", "csv-label-as-X", "csv-label-as-float", "sidecar-misses-added-rows", "sidecar-misses-other-edits",
            "object-missing-removed", "no-cleanup-after-failed-write"} <= names
    assert sum(b.control for b in breakages.BREAKAGES) == 1
