"""One contract over every registered guard, then each guard's own behaviour."""

import numpy as np
import pandas as pd
import pytest

from labelguard.tasks import guards, transforms
from labelguard.tasks.dataset import load_verified, write_dataset
from labelguard.tasks.guards import GuardContext, GuardResult
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews

ALL = sorted(guards.REGISTRY)


def _clean_context(seed: int, tmp_path, keys) -> GuardContext:
    spec = ColumnSpec()
    data = make_reviews(3000, seed=seed)
    reference = make_reviews(1000, seed=seed + 1000)  # an independent trusted sample
    store = LocalStore(tmp_path / f"ds{seed}")
    write_dataset(store, data, spec, load_signing_key(keys[0]), source={})
    integrity = load_verified(store, load_verify_key(keys[1]))
    out = transforms.run_transform(integrity.frame, spec, transforms.HONEST)
    return GuardContext(
        frame=out.frame, spec=spec, integrity=integrity, before=integrity.frame,
        transform=transforms.get_transform(transforms.HONEST), reference=reference, holdout=make_reviews(1000, seed=seed + 2000),
    )


@pytest.mark.parametrize("name", ALL)
def test_guard_contract_passes_on_clean_data(name, seed, tmp_path, keys):
    ctx = _clean_context(seed, tmp_path, keys)
    result = guards.get_guard(name).fn(ctx)
    assert isinstance(result, GuardResult) and result.name == name
    assert result.passed and not result.skipped, result.detail
    assert isinstance(result.detail, str) and result.detail
    d = result.to_dict()
    assert {"name", "passed", "detail", "verdict", "power", "class_power"} <= set(d) and d["verdict"] == "pass"
    if result.class_power is not None:  # a power figure is a flip rate, and the guard's is its worst class's
        assert set(result.class_power) == {"0", "1"} and result.power == max(result.class_power.values()) and 0 < result.power <= 1
    if result.suspect_ids is not None:
        assert set(result.suspect_ids) <= set(ctx.frame["review_id"])
        if name in ("manifest", "label_contract", "schema"):  # exact localizers name nothing on clean data
            assert result.suspect_ids == []


LOCALIZING = ["confident_learning", "knn_consistency", "reference_model", "label_contract"]


@pytest.mark.parametrize("name", LOCALIZING)
def test_localizing_guards_point_at_flipped_rows(name):
    ctx, out = _ctx_after("targeted", 0.1)
    res = guards.get_guard(name).fn(ctx)
    assert not res.passed
    truth = set(out.truth.flipped_ids)
    hits = len(truth & set(res.suspect_ids))
    f1 = 2 * hits / (len(truth) + len(res.suspect_ids))
    assert f1 > (0.99 if name == "label_contract" else 0.3), f1


def _ctx_after(transform, rate, seed=0):
    spec = ColumnSpec()
    data = make_reviews(4000, seed=seed)
    reference = make_reviews(1000, seed=seed + 1)
    out = transforms.run_transform(data, spec, transform, rate=rate, seed=seed)
    ctx = GuardContext(frame=out.frame, spec=spec, before=data, transform=transforms.get_transform(transform), reference=reference)
    return ctx, out


@pytest.mark.parametrize("transform", ["random", "targeted"])
def test_label_contract_names_exactly_the_flipped_rows(transform):
    ctx, out = _ctx_after(transform, 0.05)
    res = guards.label_contract_guard(ctx)
    assert not res.passed
    assert sorted(res.suspect_ids) == sorted(out.truth.flipped_ids)
    assert f"'{transform}' changed 200 label(s)" in res.detail


def test_class_balance_fires_on_targeted_not_on_symmetric_random():
    ctx, _ = _ctx_after("targeted", 0.2)
    fired = guards.class_balance_guard(ctx)
    assert not fired.passed and fired.metrics["p_value"] < 1e-6
    ctx, _ = _ctx_after("random", 0.2)
    assert guards.class_balance_guard(ctx).passed  # symmetric flips keep the prior: the known blind spot


def test_schema_guard_points_at_bad_rows():
    ctx, _ = _ctx_after("honest", 0.0)
    bad = ctx.frame.copy()
    bad.loc[5, "polarity"] = np.inf
    bad.loc[9, "label"] = 3
    ctx.frame = bad
    res = guards.schema_guard(ctx)
    assert not res.passed
    assert sorted(res.suspect_ids) == sorted(bad.loc[[5, 9], "review_id"])


def test_guards_without_inputs_skip_visibly():
    spec = ColumnSpec()
    ctx = GuardContext(frame=make_reviews(100, seed=0), spec=spec)
    results = {r.name: r for r in guards.run_guards(ctx)}
    for name in ("manifest", "label_contract", "class_balance", "class_conditional", "reference_model", "model_gate"):
        assert results[name].skipped, name
    assert not results["schema"].skipped


def test_a_schema_failure_without_an_id_column_names_row_positions_not_an_empty_list():
    """With no id column the detail ended "in rows " with nothing after it; now the 0-based positions, and a row index
    that is not 0..n-1 does not change them. With ids, the ids (as before)."""
    spec = ColumnSpec(feature_cols=("f0",), timestamp_col=None, classes=(0, 1))
    frame = pd.DataFrame({"f0": [0.1, np.inf, 0.3, 0.2], "label": [0, 1, 1, 0], "review_id": ["a", "b", "c", "d"]})
    assert guards.schema_guard(guards.GuardContext(frame=frame, spec=spec)).detail == "1 failure(s) (f0:finite) in rows b"
    no_ids = frame.drop(columns="review_id").set_axis([10, 11, 12, 13])
    res = guards.schema_guard(guards.GuardContext(frame=no_ids, spec=spec))
    assert (res.passed, res.suspect_ids) == (False, [])
    assert res.detail == "2 failure(s) (f0:finite; reviews:column_in_dataframe) at 0-based row positions 1"
