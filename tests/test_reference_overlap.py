"""Break-it r7 finding 8b: a baseline made of the training set itself, given as its `--reference`, passed every guard:
each two-sample guard compared the data with itself. A reference that is more than --tolerate the data's own rows
(same id and features) now leaves the verdict `inconclusive` with the reason and its fix; a guard that fired stays fired."""

from __future__ import annotations

import pytest

from labelguard.tasks import guards
from labelguard.tasks.dataset import HOLDOUT, write_dataset
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.verify import inconclusive_fix, note_reference_overlap, suite_verdict
from tests.clirun import invoke


def test_the_reference_overlap_decides_only_above_the_tolerance():
    assert note_reference_overlap(None, 0.2) is None
    assert note_reference_overlap({"shared": 20, "of": 100}, 0.2) is None  # 20 % is not more than 20 %
    assert note_reference_overlap({"shared": 21, "of": 100}, 0.2) == (
        "21 of the reference's 100 rows are rows of the data: its guards compare the data with itself "
        "(21% of the reference, more than the 20% of flips per class that may go unseen)")


def test_a_fired_guard_stays_fired_and_a_pass_becomes_inconclusive_with_its_own_fix():
    passing = [guards.GuardResult("class_balance", True, "ok", class_power={"0": 0.1, "1": 0.1}, power=0.1)]
    line = note_reference_overlap({"shared": 90, "of": 100}, 0.2)
    verdict, why, powers = suite_verdict(passing, 0.2, None, None, line)
    assert (verdict, why) == ("inconclusive", f"reference: {line}")
    assert inconclusive_fix(passing, powers, None, tolerate=0.2, reference_leak=True) == (
        "pass a --reference of trusted rows taken apart from the data (e.g. `labelguard baseline` of its holdout), or --allow-inconclusive")
    fired = [guards.GuardResult("class_balance", False, "shifted", class_power={"0": 0.1, "1": 0.1}, power=0.1)]
    assert suite_verdict(fired, 0.2, None, None, line)[0] == "fired"


@pytest.fixture(scope="module")
def lake(tmp_path_factory, keys):
    root = tmp_path_factory.mktemp("refoverlap")
    sign = load_signing_key(keys[0])
    write_dataset(LocalStore(root / "ds"), make_reviews(300, seed=7), ColumnSpec(), sign, source={"kind": "synthetic"}, dataset=DatasetRef("r", "data"))
    write_dataset(LocalStore(root / "ds" / HOLDOUT), make_reviews(300, seed=8), ColumnSpec(), sign, source={"kind": "synthetic"},
                  dataset=DatasetRef("r", "holdout", HOLDOUT))
    env = {"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0])}
    for src, out in (("ds", "bl_self"), ("ds/holdout", "bl_apart")):
        assert invoke("baseline", root / src, "--out", root / out, env=env).exit_code == 0
    return root, env


def test_verify_against_a_baseline_of_the_data_itself_cannot_tell(lake):
    root, env = lake
    res = invoke("verify", root / "ds", "--reference", root / "bl_self", "--guards", "manifest,schema,class_balance,class_conditional,reference_model", env=env)
    assert res.exit_code == 1
    assert res.stderr == ("cannot tell: reference: 300 of the reference's 300 rows are rows of the data: its guards compare the data with itself "
                          "(100% of the reference, more than the 20% of flips per class that may go unseen) "
                          "(fix: pass a --reference of trusted rows taken apart from the data (e.g. `labelguard baseline` of its holdout), or --allow-inconclusive)\n")
    apart = invoke("verify", root / "ds", "--reference", root / "bl_apart", "--guards", "manifest,schema,class_balance,class_conditional,reference_model", env=env)
    assert (apart.exit_code, apart.stderr) == (0, "")
    assert "verdict: pass" in apart.stdout
