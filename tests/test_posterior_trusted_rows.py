"""The suspect set's choice read on the trusted rows: class mix after flips (issue 9, eleventh session) and what is said
when the trusted rows cannot vouch for any set (a checkerboard poisoned before its holdout was split off)."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks import attacks
from labelguard.tasks.dataset import write_dataset
from labelguard.tasks.detectors import knn_consistency
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.posterior import class_weighted_rate, flip_posterior
from labelguard.tasks.storage import open_store
from labelguard.tasks.verify import make_baseline


def _board(seed, rows):
    X = np.random.default_rng(seed).uniform(0, 3, size=(rows, 2))
    y = (np.floor(X[:, 0]) + np.floor(X[:, 1])).astype(int) % 2
    frame = pd.DataFrame(X, columns=["f0", "f1"]).assign(label=y, review_id=np.arange(rows))
    return frame, ColumnSpec(feature_cols=("f0", "f1"), timestamp_col=None, classes=(0, 1))


def _split(frame, seed):
    """Candidate 80 %, trusted holdout 20 %, as ingest (and bench/independent.py) split."""
    idx = np.random.default_rng(seed).permutation(len(frame))
    cut = int(round(0.8 * len(frame)))
    return frame.iloc[idx[:cut]].reset_index(drop=True), frame.iloc[idx[cut:]].reset_index(drop=True)


def test_the_false_alarm_rate_is_the_trusted_rows_reweighted_to_the_candidates_clean_label_mix():
    codes = np.r_[np.zeros(50, int), np.ones(50, int)]
    hits = np.r_[np.zeros(50, bool), np.arange(50) < 30]  # the method flags 60 % of label-1 rows, none of label 0
    # in the trusted rows' own proportions: the pooled Jeffreys rate, as before
    rate, se = class_weighted_rate(hits, codes, np.array([0.5, 0.5]))
    assert rate == pytest.approx(30.5 / 101) and se == pytest.approx(np.sqrt(rate * (1 - rate) / 100))
    assert class_weighted_rate(hits, codes) == pytest.approx((rate, se))
    # the candidate's clean rows 20:80 (a targeted attack emptied label 0): 0.8 * 0.6 on Kish's 50 / 0.68 rows
    n_eff = 1 / (0.2**2 / 50 + 0.8**2 / 50)
    rate, se = class_weighted_rate(hits, codes, np.array([0.2, 0.8]))
    assert rate == pytest.approx((0.48 * n_eff + 0.5) / (n_eff + 1)) and se == pytest.approx(np.sqrt(rate * (1 - rate) / n_eff))


def test_a_targeted_attack_does_not_hand_the_set_to_a_rate_measured_in_the_wrong_class_mix():
    # checkerboard, 400 candidate rows and 100 trusted (bench/independent.py's, dev seed 100), targeted 40 % (160
    # flips of class 0 into 1): 31 % of the trusted rows reach the reference model's threshold but 62 % of the
    # candidate's clean rows (most now labelled 1, where its flip posterior is high); read on the trusted rows as they
    # are, its 292 rows (143 flips) replaced the posterior's 171 (124 flips)
    board, spec = _board(100, 500)
    cand, ref = _split(board, 100)
    res = attacks.flip_labels(cand, spec, attack="targeted", rate=0.4, seed=100)
    truth = res.frame["review_id"].isin(res.flipped_ids).to_numpy()
    post = flip_posterior(res.frame, spec, ref)
    assert post.chosen == "posterior", post.candidates
    assert (int(post.suspect.sum()), int((post.suspect & truth).sum())) == (171, 124)
    assert post.candidates["reference_model"]["false_positive_rate"] > 0.5


NOTE = ("none named: no model tells the classes apart on the 80 trusted rows, and knn_consistency flags 30 of the 320 candidate rows "
        "(9.4%) and 6.2% of the trusted rows, not clearly more often; if the trusted rows are clean these are its false alarms, but if "
        "labels were changed before the holdout was split off the same data, the trusted rows hold flips too and these 30 rows may be "
        "flips (knn_consistency's suspect_ids); verify against trusted rows labelled independently (--reference) to tell")


def _poisoned_before_the_split():
    # a 400-row checkerboard, random 10 % flipped in the source file, then split: 32 flips among the 320 candidate
    # rows, 8 among the 80 trusted ones; no model has skill, and the neighbourhood rule flags the trusted rows about
    # as often as the candidate's (its 30 rows hold 23 flips)
    whole, spec = _board(100, 400)
    res = attacks.flip_labels(whole, spec, attack="random", rate=0.1, seed=100)
    cand, ref = _split(res.frame, 101)
    return cand, ref, spec, cand["review_id"].isin(res.flipped_ids).to_numpy()


def test_when_the_trusted_rows_cannot_vouch_for_any_set_the_empty_set_says_why():
    cand, ref, spec, truth = _poisoned_before_the_split()
    assert (int(truth.sum()), int(ref["review_id"].isin(cand["review_id"]).sum())) == (32, 0)
    post = flip_posterior(cand, spec, ref)
    assert not post.suspect.any()
    assert post.note == NOTE
    knn = knn_consistency(cand, spec).suspect
    assert (int(knn.sum()), int((knn & truth).sum())) == (30, 23)


def test_a_set_that_is_named_carries_no_note():
    # the same board at 500 rows (dev seed 101), random 10 % flipped after the split: the trusted rows vouch for a set
    board, spec = _board(101, 500)
    cand, ref = _split(board, 101)
    res = attacks.flip_labels(cand, spec, attack="random", rate=0.1, seed=101)
    post = flip_posterior(res.frame, spec, ref)
    assert post.suspect.any() and post.note == ""


def test_verify_prints_why_nobody_is_named(tmp_path, keys):
    cand, ref, spec, _ = _poisoned_before_the_split()
    sign = load_signing_key(keys[0])
    ds, ref_src, baseline = (str(tmp_path / d) for d in ("ds", "trusted", "baseline"))
    for uri, frame in ((ds, cand), (ref_src, ref)):
        store = open_store(uri)
        store.ensure_writable()
        write_dataset(store, frame, spec, sign, source={"kind": "test"})
    make_baseline(ref_src, baseline, load_verify_key(keys[1]), sign)
    out = tmp_path / "v.json"
    res = CliRunner().invoke(app, ["verify", ds, "--reference", baseline, "--json", str(out), "--verify-key", str(keys[1])])
    doc = json.loads(out.read_text())
    assert (res.exit_code, doc["verdict"]) == (1, "inconclusive"), res.output  # no guard has the power to tell: not a pass
    assert doc["suspect_ids"] == [] and doc["suspects_note"] == NOTE, res.output
    assert f"suspect rows: {NOTE}" in " ".join(res.output.split())
