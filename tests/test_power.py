"""Regime-aware verdicts: size-free duplicate tests, per-class power, the model gate's holdout, and `verify --tolerate`."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks import attacks, guards
from labelguard.tasks.dataset import write_dataset
from labelguard.tasks.detectors import paired_gate
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
from labelguard.tasks.storage import open_store
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.verify import dataset_verdict
from labelguard.tasks.power import paired_difference_bounds

runner = CliRunner()
STAT = ["class_balance", "class_conditional", "reference_model", "duplicate_conflicts", "model_gate"]
DISCRETE = ColumnSpec(feature_cols=("stars", "bucket", "votes"), timestamp_col=None)


def _discrete(rows: int, seed: int) -> pd.DataFrame:
    """Coarse features (stars 1-5, a 0-29 bucket, 0-5 votes): equal feature rows with different labels are natural."""
    rng = np.random.default_rng(seed)
    stars = rng.integers(1, 6, rows)
    label = (rng.random(rows) < 1 / (1 + np.exp(-(stars - 3)))).astype(int)
    return pd.DataFrame({"review_id": np.arange(rows) + seed * 1_000_000, "stars": stars, "bucket": rng.integers(0, 30, rows),
                         "votes": rng.integers(0, 6, rows), "label": label})


def _run(frame, spec, reference, holdout=None, tolerate=0.2):
    ctx = guards.GuardContext(frame=frame, spec=spec, reference=reference, holdout=holdout)
    res = guards.apply_tolerance(guards.run_guards(ctx, STAT if holdout is not None else STAT[:-1]), tolerate)
    return {g.name: g for g in res}, dataset_verdict(res, tolerate)


def test_duplicate_conflicts_verdict_does_not_grow_with_sample_size():
    cand, ref = _discrete(8000, 1), _discrete(1000, 2)
    res, _ = _run(cand, DISCRETE, ref)
    dup = res["duplicate_conflicts"]
    ref_conflicts = guards.duplicate_conflicts_guard(guards.GuardContext(frame=ref, spec=DISCRETE)).metrics["conflicts"]
    assert dup.metrics["conflicts"] > 5 * ref_conflicts  # the raw count grows with size: a count test would fire
    assert dup.verdict == "pass" and dup.power < 0.1, dup.detail
    flipped = attacks.flip_labels(cand, DISCRETE, attack="targeted", rate=0.1, seed=1).frame
    fired = guards.duplicate_conflicts_guard(guards.GuardContext(frame=flipped, spec=DISCRETE, reference=ref))
    assert fired.verdict == "fired" and fired.metrics["p_value"] < 1e-6, fired.detail


def test_minority_class_flips_are_inconclusive_without_power_and_fire_with_it():
    spec = ColumnSpec()
    cand = make_reviews(4000, positive_share=0.01, seed=3)
    minority = int((cand["label"] == 1).sum())
    poisoned = attacks.flip_labels(cand, spec, attack="targeted", rate=(minority // 2) / len(cand), seed=3).frame
    res, (verdict, why, power) = _run(poisoned, spec, make_reviews(1000, positive_share=0.01, seed=4))
    assert verdict == "inconclusive" and power["1"] > 0.2 and power["0"] <= 0.2, why
    assert why.startswith("flips of 20% of a class would go unseen (smallest detectable flip rate: class 1:")
    assert res["class_balance"].verdict == "inconclusive" and res["class_balance"].passed  # passed keeps meaning "did not fire"
    res, (verdict, _, _) = _run(poisoned, spec, make_reviews(20000, positive_share=0.01, seed=4))
    per_class = res["reference_model"].metrics["per_class"]  # the minority's own disagreement test sees it
    assert verdict == "fired" and per_class["1"]["p_value"] < 1e-10 and per_class["0"]["p_value"] > 1e-3


def test_model_gate_reference_never_scores_holdout_rows_it_trained_on():
    rng = np.random.default_rng(0)
    cols = tuple(f"f{i}" for i in range(60))
    holdout = pd.DataFrame(rng.normal(size=(150, 60)), columns=cols)
    holdout["label"], holdout["review_id"] = rng.integers(0, 2, 150), np.arange(150)  # labels are noise: nothing to learn
    spec = ColumnSpec(feature_cols=cols, timestamp_col=None)
    from labelguard.tasks.detectors import _logreg

    in_sample = (_logreg().fit(holdout[list(cols)], holdout["label"]).predict(holdout[list(cols)]) == holdout["label"]).mean()
    gate = paired_gate(holdout, holdout, holdout, spec)
    assert in_sample > 0.8 and gate["reference_accuracy"] < 0.62


def _wine():
    w = load_wine(as_frame=True).frame.rename(columns={"target": "label"})
    w.insert(0, "review_id", np.arange(len(w)))
    spec = ColumnSpec(feature_cols=tuple(c for c in w.columns if c not in ("review_id", "label")), timestamp_col=None, classes=(0, 1, 2))
    idx = np.random.default_rng(0).permutation(len(w))
    return w.iloc[idx[36:]].reset_index(drop=True), w.iloc[idx[:36]].reset_index(drop=True), spec


def test_wine_gate_never_passes_a_damaging_attack_and_says_when_it_cannot_tell():
    train, holdout, spec = _wine()
    res, (verdict, why, _) = _run(train, spec, holdout, holdout)
    why_gate = "model gate cannot rule out an accuracy drop of 2% (95 % upper bound 11.5% on 36 holdout rows)"
    g = res["model_gate"].metrics  # 36 rows cannot vouch for 2 points even when the models never disagree (bound 7.0 %)
    blind = "of a class would go unseen (smallest detectable flip rate: class 0: 75.5%, class 2: 64.5%, class 1: 54%)"  # every reason is named
    assert verdict == "inconclusive" and why == f"{why_gate}; flips of 20% {blind}" and g["accuracy_drop_upper"] > paired_difference_bounds(0, 0, 36)[1] > 0.02
    _, (verdict, why, _) = _run(train, spec, holdout, holdout, tolerate=0.5)  # --tolerate is a flip rate: it does not loosen the gate
    assert verdict == "inconclusive" and why == f"{why_gate}; flips of 50% {blind}"
    poisoned = attacks.flip_labels(train, spec, attack="targeted", rate=0.2, seed=0, source=2, target=0).frame  # last class to first
    res, (verdict, _, _) = _run(poisoned, spec, holdout, holdout)
    assert verdict == "fired" and res["model_gate"].verdict == "fired"
    assert res["model_gate"].metrics["reference_accuracy"] == 1.0 and res["model_gate"].metrics["accuracy"] < 0.75


@pytest.fixture
def ingested(tmp_path, keys):
    """A dataset and its trusted holdout at URI/holdout, as ingest writes them (not default synthetic: no golden holdout)."""
    sign = load_signing_key(keys[0])
    ds = str(tmp_path / "ds")
    frame = make_reviews(4000, seed=21)
    for uri, part, ref in ((ds, frame.iloc[:3000], DatasetRef("ds", "data")), (f"{ds}/holdout", frame.iloc[3000:], DatasetRef("ds", "holdout", "holdout"))):
        store = open_store(uri)
        store.ensure_writable()
        write_dataset(store, part.reset_index(drop=True), ColumnSpec(), sign, source={"kind": "file"}, dataset=ref)
    return ds


def test_verify_uses_own_holdout_and_fails_closed_when_it_cannot_tell(ingested, keys, tmp_path):
    out = tmp_path / "v.json"
    res = runner.invoke(app, ["verify", ingested, "--verify-key", str(keys[1]), "--json", str(out)])
    doc = json.loads(out.read_text())
    assert res.exit_code == 0, res.output
    assert doc["verdict"] == "pass" and doc["ok"]
    gates = {g["name"]: g for g in doc["guards"]}
    assert gates["model_gate"]["verdict"] == "pass" and gates["model_gate"]["power"] == 0.02  # 1,000 holdout rows, models agree: 15.4 / 1000 < 2 %
    assert gates["model_gate"]["metrics"]["accuracy_drop_upper"] < 0.02  # and the holdout rules out a 2-point drop
    assert all({"verdict", "power", "passed"} <= set(g) for g in doc["guards"])
    res = runner.invoke(app, ["verify", ingested, "--verify-key", str(keys[1]), "--tolerate", "0.01"])
    assert res.exit_code == 1
    assert res.stderr.strip() == (
        "cannot tell: flips of 1% of a class would go unseen (smallest detectable flip rate: class 1: 4.5%, class 0: 4%) "
        "(fix: add trusted reference rows, accept more unseen flips with --tolerate 0.045, or pass --allow-inconclusive)"
    )
    res = runner.invoke(app, ["verify", ingested, "--verify-key", str(keys[1]), "--tolerate", "0.045"])  # the fix it names does, exactly
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["verify", ingested, "--verify-key", str(keys[1]), "--tolerate", "0.01", "--allow-inconclusive"])
    assert res.exit_code == 0 and "verdict: inconclusive" in res.stdout
    res = runner.invoke(app, ["verify", ingested, "--verify-key", str(keys[1]), "--tolerate", "0"])
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: --tolerate must be a rate in (0, 1], got 0 (fix: pass e.g. --tolerate 0.05 (5 % of a class's rows))"


def test_without_reference_the_verdict_comes_from_the_estimated_noise_rate(tmp_path, keys):
    sign = load_signing_key(keys[0])
    clean = make_reviews(2000, separation=2.8, seed=5)
    noisy = attacks.flip_labels(clean, ColumnSpec(), attack="random", rate=0.3, seed=5).frame
    codes = {}
    for name, frame in (("clean", clean), ("noisy", noisy)):
        write_dataset(open_store(str(tmp_path / name)), frame, ColumnSpec(), sign, source={"kind": "file"})
        out = tmp_path / f"{name}.json"
        res = runner.invoke(app, ["verify", str(tmp_path / name), "--verify-key", str(keys[1]), "--json", str(out)])
        codes[name] = (res.exit_code, json.loads(out.read_text()))
    assert codes["clean"][0] == 0 and codes["clean"][1]["verdict_detail"].startswith("no trusted reference: estimated noise rate")
    assert codes["noisy"][0] == 1 and codes["noisy"][1]["verdict"] == "inconclusive" and codes["noisy"][1]["noise_rate"] > 0.2


def test_a_single_minority_row_in_the_reference_is_judged_not_crashed():
    spec = ColumnSpec()
    cand = make_reviews(2000, positive_share=0.02, seed=6)
    ref = make_reviews(300, positive_share=0.02, seed=7)
    ref = pd.concat([ref[ref.label == 0], ref[ref.label == 1].head(1)], ignore_index=True)
    res, (verdict, why, power) = _run(cand, spec, ref, ref)
    assert verdict == "inconclusive" and power["1"] == 1.0, why
    assert res["reference_model"].verdict == "inconclusive"
    # one minority row: the reference model names the majority class only, so the gate has nothing to judge by
    assert res["model_gate"].verdict == "skipped" and res["model_gate"].detail.startswith("skipped: the reference model has no skill on this holdout (predictions independent of the labels, p=1;")


def test_model_gate_share_test_ignores_a_weaker_reference_and_sees_a_moved_class():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=5000, n_features=10, n_informative=8, n_redundant=0, n_classes=40, n_clusters_per_class=1, random_state=3)
    cols = tuple(f"f{i}" for i in range(10))
    frame = pd.DataFrame(X, columns=cols).assign(label=y, review_id=np.arange(5000))
    spec = ColumnSpec(feature_cols=cols, timestamp_col=None, classes=tuple(range(40)))
    cand, holdout = frame.iloc[:4000].reset_index(drop=True), frame.iloc[4000:].reset_index(drop=True)
    clean = guards.model_gate_guard(guards.GuardContext(frame=cand, spec=spec, reference=holdout, holdout=holdout))
    # 25 trusted rows per class make a worse reference model, not a poisoned candidate: no alarm, and the accuracy is vouched for;
    # the gate cannot pass since issue 9's per-class recall rule: ~25 holdout rows of a class at 32 % accuracy cannot rule out a 20-point recall drop
    assert clean.verdict == "inconclusive" and clean.metrics["accuracy_drop_upper"] < 0.02 and clean.metrics["recall_drop_upper"] >= 0.2, clean.detail
    spec3 = ColumnSpec(classes=(0, 1, 2))
    cand3, hold3 = make_reviews(3000, n_classes=3, seed=8), make_reviews(800, n_classes=3, seed=9)
    poisoned = attacks.flip_labels(cand3, spec3, attack="targeted", rate=0.2, seed=3, source=2, target=1).frame
    fired = guards.model_gate_guard(guards.GuardContext(frame=poisoned, spec=spec3, reference=hold3, holdout=hold3))
    assert fired.verdict == "fired" and fired.metrics["share_class"] in ("1", "2"), fired.detail


def test_model_gate_share_is_tested_against_the_true_holdout_share_not_the_reference_model():
    spec = ColumnSpec()
    cand, holdout = make_reviews(3000, separation=2.8, seed=21), make_reviews(1000, separation=2.8, seed=22)
    # a trusted reference of 80 rows, 7 in 8 of them negative: its model over-predicts class 0,
    # so a clean candidate predicts class 0 far less often than the reference model does
    ref = make_reviews(2000, separation=2.8, seed=23)
    ref = pd.concat([ref[ref.label == 0].head(70), ref[ref.label == 1].head(10)], ignore_index=True)
    clean = guards.model_gate_guard(guards.GuardContext(frame=cand, spec=spec, reference=ref, holdout=holdout))
    m = clean.metrics
    assert m["reference_share"] - m["share"] > 0.05 or m["share"] - m["reference_share"] > 0.05, clean.detail  # the models differ
    assert clean.verdict == "pass" and m["share_p"] > 0.01 and m["share_gap"] < 0.02, clean.detail
    poisoned = attacks.flip_labels(cand, spec, attack="targeted", rate=0.2, seed=21).frame
    fired = guards.model_gate_guard(guards.GuardContext(frame=poisoned, spec=spec, reference=ref, holdout=holdout))
    g = fired.metrics
    # a 26-point share shift; the p-value also carries the 80-row trusted model's own share swing
    # across bootstrap refits (it is no sharper than its training sample), so it is 0.0017, not 1e-6
    assert fired.verdict == "fired" and g["share_class"] in ("0", "1") and g["share_gap"] > 0.1 and 1e-4 < g["share_p"] < 0.01, fired.detail
    assert g["accuracy_p"] < 1e-20  # the accuracy test is what fires here
    assert g["share_gap"] == pytest.approx(abs(g["share"] - g["true_share"]) - abs(g["reference_share"] - g["true_share"]))
    assert g["true_share"] == pytest.approx(float((holdout.label.astype(str) == g["share_class"]).mean()))
    assert f"vs {g['true_share']:.1%} true (p=" in fired.detail


def test_model_gate_cannot_judge_when_the_reference_model_has_no_skill():
    """Labels independent of the features (3 classes): a clean candidate collapses onto the commonest
    class, which would look like a moved class share. The gate steps aside when the reference model's
    predictions are independent of the labels, and its share test needs skill at the gate's level."""
    cols = ("f0", "f1")
    spec = ColumnSpec(feature_cols=cols, timestamp_col=None, classes=(0, 1, 2))
    outcomes = []
    for seed in range(8):
        rng = np.random.default_rng(seed)

        def noise(n, offset):
            f = pd.DataFrame(rng.normal(size=(n, 2)), columns=cols)
            f["label"], f["review_id"] = rng.choice(3, size=n, p=[0.3, 0.3, 0.4]), np.arange(n) + offset
            return f

        cand, holdout = noise(480, 0), noise(120, 10_000)
        # the gate alone: the other guards' verdicts are not what this test is about (8 seeds of the whole set took ~20 s)
        gate = guards.run_guards(guards.GuardContext(frame=cand, spec=spec, reference=holdout, holdout=holdout), ["model_gate"])[0]
        skill_p = paired_gate(cand, holdout, holdout, spec)["reference_skill_p"]
        assert (gate.verdict == "skipped") == (skill_p > guards.SKILL_ALPHA) and gate.verdict != "fired", (seed, skill_p, gate.detail)
        outcomes.append(gate.verdict)
    assert outcomes.count("skipped") == 7  # seed 5: skill p = 0.026 by chance; the share test still needs p < 0.001: no alarm


def test_the_inconclusive_fix_offers_a_tolerance_only_when_one_would_do():
    from labelguard.cli import _inconclusive_fix
    from labelguard.tasks.verify import VerifyReport

    # a class no guard can see even wholly flipped (8 minority rows): no --tolerate would pass it
    blind = VerifyReport("ds", [], verdict="inconclusive", tolerate=0.2, class_power={"common": 0.04, "rare": 1.0})
    assert _inconclusive_fix(blind) == "add trusted reference rows, or pass --allow-inconclusive"
    seen = VerifyReport("ds", [], verdict="inconclusive", tolerate=0.2, class_power={"common": 0.04, "rare": 0.331})
    assert _inconclusive_fix(seen) == "add trusted reference rows, accept more unseen flips with --tolerate 0.331, or pass --allow-inconclusive"
    # a power on the rate grid is the tolerance that passes (0.47, not linspace's 0.47000000000000003, break-it r5)
    from labelguard.tasks.power import RATE_GRID

    assert 0.47 in RATE_GRID.tolist() and 0.285 in RATE_GRID.tolist()
    on_grid = VerifyReport("ds", [], verdict="inconclusive", tolerate=0.2, class_power={"platinum": float(RATE_GRID[93])})
    assert _inconclusive_fix(on_grid) == "add trusted reference rows, accept more unseen flips with --tolerate 0.47, or pass --allow-inconclusive"
    assert dataset_verdict([guards.GuardResult("reference_model", True, "", class_power={"platinum": float(RATE_GRID[93])}, power=0.47)], 0.47)[0] == "pass"
    # no reference: the estimated noise rate decides
    own = VerifyReport("ds", [], verdict="inconclusive", tolerate=0.05, noise_rate=0.112)
    assert _inconclusive_fix(own) == "add trusted reference rows, accept more unseen flips with --tolerate 0.112, or pass --allow-inconclusive"


def test_model_gate_share_test_allows_for_a_clean_models_share_swinging_between_training_samples():
    """90:10, heavily overlapping classes (the regime grid's 90:10, seed 1142): a clean candidate's model
    predicts 1.4 % of an 11.6 % class where the trusted model predicts 7.4 %. The share test used to fire
    on such runs (1.5 % of 200 clean seeds); against the two models' bootstrap variability it does not."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=2500, n_features=10, n_informative=3, n_redundant=0, n_classes=2, n_clusters_per_class=1,
                               weights=[0.9, 0.1], flip_y=0, class_sep=1.0, random_state=1142)
    cols = tuple(f"f{i}" for i in range(10))
    frame = pd.DataFrame(X, columns=cols).assign(label=y, review_id=np.arange(len(y)))
    idx = np.random.default_rng(1142).permutation(len(frame))
    cand, holdout = frame.iloc[idx[:2000]].reset_index(drop=True), frame.iloc[idx[2000:]].reset_index(drop=True)
    spec = ColumnSpec(feature_cols=cols, timestamp_col=None, classes=(0, 1))
    gate = guards.model_gate_guard(guards.GuardContext(frame=cand, spec=spec, reference=holdout, holdout=holdout))
    m = gate.metrics
    assert (m["share_class"], round(m["share"], 3), round(m["true_share"], 3), round(m["reference_share"], 3)) == ("1", 0.014, 0.116, 0.074)
    assert m["share_gap"] == pytest.approx(0.06) and m["share_p"] > 0.01 and not gate.fired, gate.detail
    # no alarm, and no pass either: 500 holdout rows on which the models disagree this much cannot rule out a 2-point drop
    assert gate.verdict == "inconclusive" and m["accuracy_drop_upper"] == pytest.approx(0.0245, abs=5e-4)


def test_paired_difference_bounds_cover_the_true_drop_and_vouch_only_with_enough_rows():
    from scipy import stats

    # no disagreement is not certainty: the upper bound is z^2 / (n + z^2) (Tango's score at x = y = 0)
    z2 = stats.norm.isf(0.05) ** 2
    assert paired_difference_bounds(0, 0, 114) == pytest.approx((-z2 / (114 + z2), z2 / (114 + z2)), abs=1e-9)
    assert paired_difference_bounds(0, 0, 114)[1] > 0.02 > paired_difference_bounds(0, 0, 200)[1]  # 114 rows can never vouch for 2 points
    assert paired_difference_bounds(5, 0, 114) == pytest.approx(tuple(-b for b in reversed(paired_difference_bounds(0, 5, 114))), abs=1e-9)
    lo, hi = paired_difference_bounds(30, 10, 500)
    assert lo < 0.04 < hi and (lo, hi) == pytest.approx((0.0199, 0.0621), abs=5e-4)
    assert paired_difference_bounds(0, 0, 0) == (-1.0, 1.0)
    # exact coverage of the one-sided 95 % upper bound, every outcome of 30 paired rows enumerated
    n = 30
    upper = {(x, y): paired_difference_bounds(x, y, n)[1] for x in range(n + 1) for y in range(n + 1 - x)}
    for px, py in ((0.05, 0.0), (0.1, 0.03), (0.2, 0.2), (0.3, 0.1)):
        cover = sum(stats.multinomial.pmf([x, y, n - x - y], n, [px, py, 1 - px - py]) for (x, y), hi in upper.items() if hi >= px - py)
        assert cover >= 0.93, (px, py, cover)


def test_share_gap_makes_the_gate_vouch_for_every_class_share(tmp_path, keys):
    """`--share-gap` (the business figure): the gate passes only when the holdout also rules out a move of a
    class's predicted share of that size. 5 % random flips leave the accuracy bound at 0.7 % but the share
    bound at 2.5 %: a pass by default (the share bound is reported), "cannot tell" at --share-gap 0.02, with
    a fix whose value would do. Clean rows of the same regime pass either way."""
    from sklearn.datasets import make_classification

    feats = tuple(f"f{i}" for i in range(10))
    spec = ColumnSpec(feature_cols=feats, timestamp_col=None, classes=(0, 1))
    X, y = make_classification(n_samples=2500, n_features=10, n_informative=4, n_redundant=0, n_clusters_per_class=1,
                               flip_y=0, class_sep=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=feats).assign(label=y, review_id=np.arange(2500))
    cand, hold = frame.iloc[:2000].reset_index(drop=True), frame.iloc[2000:].reset_index(drop=True)
    poisoned = attacks.flip_labels(cand, spec, attack="random", rate=0.05, seed=0).frame
    sign = load_signing_key(keys[0])
    for name, part in (("clean", cand), ("poisoned", poisoned)):
        for uri, rows, ref in ((tmp_path / name, part, DatasetRef(name, "data")), (tmp_path / name / "holdout", hold, DatasetRef(name, "holdout", "holdout"))):
            store = open_store(str(uri))
            store.ensure_writable()
            write_dataset(store, rows, spec, sign, source={"kind": "file"}, dataset=ref)
    # the statistical guards and the gate (cleanlab and the neighbourhood detector see these flips and fire)
    key = ["--verify-key", str(keys[1]), "--guards", ",".join(STAT)]
    out = tmp_path / "v.json"
    res = runner.invoke(app, ["verify", str(tmp_path / "poisoned"), *key, "--json", str(out)])
    gate = {g["name"]: g for g in json.loads(out.read_text())["guards"]}["model_gate"]
    assert res.exit_code == 0, res.output
    assert gate["verdict"] == "pass" and "share_move_tolerance" not in gate["metrics"]
    assert round(gate["metrics"]["accuracy_drop_upper"], 4) == 0.0072 and round(gate["metrics"]["share_move_upper"], 4) == 0.0247
    res = runner.invoke(app, ["verify", str(tmp_path / "poisoned"), *key, "--share-gap", "0.02", "--json", str(out)])
    assert res.exit_code == 1, res.output
    assert res.stderr == (
        "cannot tell: model gate cannot rule out a 2% move of class 1's predicted share (95 % upper bound 2.5% on 500 holdout rows) "
        "(fix: pass a larger trusted --holdout (the gate's bound on the share move shrinks with its rows), "
        "accept a larger move with --share-gap 0.03, or --allow-inconclusive)\n"
    )
    doc = json.loads(out.read_text())
    assert doc["verdict"] == "inconclusive" and doc["share_gap"] == 0.02
    assert {g["name"]: g for g in doc["guards"]}["model_gate"]["metrics"]["share_move_tolerance"] == 0.02
    assert runner.invoke(app, ["verify", str(tmp_path / "poisoned"), *key, "--share-gap", "0.03"]).exit_code == 0  # the fix it names does
    clean = runner.invoke(app, ["verify", str(tmp_path / "clean"), *key, "--share-gap", "0.02"])
    assert clean.exit_code == 0 and clean.stderr == "", clean.output
    bad = runner.invoke(app, ["verify", str(tmp_path / "clean"), *key, "--share-gap", "2"])
    assert bad.exit_code == 2 and bad.stderr == "error: --share-gap must be a share in (0, 1], got 2 (fix: pass e.g. --share-gap 0.02 (2 points of a class's predicted share))\n"
    bad = runner.invoke(app, ["pipeline", str(tmp_path / "clean"), "--verify-key", str(keys[1]), "--share-gap", "0"])
    assert bad.exit_code == 2 and bad.stderr == "error: --share-gap must be a share in (0, 1], got 0 (fix: pass e.g. --share-gap 0.02 (2 points of a class's predicted share))\n"
