"""Found by the lead while trying the CLI as a user (session 30)."""

from __future__ import annotations

import json

from labelguard.tasks.dataset import to_parquet_bytes
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews
from tests.clirun import invoke


def test_rows_named_when_no_guard_fired_are_not_called_suspects_on_an_inconclusive_verdict(tmp_path, keys):
    """On clean 40-class data `verify` said `suspect rows (805, from flip_posterior)` under an `inconclusive` verdict in
    which no guard fired: guards that cannot vouch are not guards that found flips. Only a fired verdict calls the pooled
    posterior's rows suspects; otherwise they are the rows most likely flipped, as on a pass (the JSON is unchanged)."""
    frame = make_reviews(500, seed=30)
    flipped = [7, 52, 133, 208, 377]  # five labels changed before sealing: too few for any guard on 100 trusted rows
    frame.loc[flipped, "label"] = 1 - frame.loc[flipped, "label"]
    LocalStore(tmp_path / "lake").put("part-0.parquet", to_parquet_bytes(frame.iloc[:400]))
    LocalStore(tmp_path / "ref").put("part-0.parquet", to_parquet_bytes(frame.iloc[400:]))
    for name in ("lake", "ref"):
        assert invoke("seal", tmp_path / name, "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    made = invoke("baseline", tmp_path / "ref", "--out", tmp_path / "base", "--signing-key", keys[0], "--verify-key", keys[1], "--ledger", "none")
    assert made.exit_code == 0, made.output
    res = invoke("verify", tmp_path / "lake", "--reference", tmp_path / "base", "--verify-key", keys[1], "--ledger", "none",
                 "--allow-inconclusive", "--json", tmp_path / "v.json")
    doc = json.loads((tmp_path / "v.json").read_text())
    assert res.exit_code == 0 and doc["verdict"] == "inconclusive" and not [g for g in doc["guards"] if g["verdict"] == "fired"]
    assert doc["suspects_from"] == ["flip_posterior"] and set(frame.loc[flipped, "review_id"]) <= set(doc["suspect_ids"])
    ids = doc["suspect_ids"]
    line = f"rows most likely flipped, though nothing fired ({len(ids)}, from flip_posterior): {', '.join(map(str, ids[:10]))}{' …' if len(ids) > 10 else ''}"
    assert line in res.stdout.splitlines()
    assert not [s for s in res.stdout.splitlines() if s.startswith("suspect rows")]


def test_reference_model_gives_no_flip_rate_estimate_where_its_disagreement_test_shows_no_excess():
    """Clean 40-class data: reference_model (inconclusive) said 'estimated flip rate 29.2%, 1294 suspect row(s)' beside
    'labels disagree with the reference model on 72.1% of rows vs 76.0% out of fold on the reference (p=0.99)': EM read the
    weak model's own errors as flips. Without an excess at p < 0.05 (Bonferroni over the guard's 21 tests here: the worst
    class's p=0.079) the figure is said not to be evidence."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    from labelguard.tasks import guards
    from labelguard.tasks.detectors import reference_anchored
    from labelguard.tasks.manifest import ColumnSpec

    X, y = make_classification(n_samples=2000, n_features=10, n_informative=6, n_redundant=0, n_classes=20, n_clusters_per_class=1,
                               class_sep=1.0, random_state=30)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]).assign(label=y, review_id=np.arange(2000))
    spec = ColumnSpec(feature_cols=tuple(f"f{i}" for i in range(10)), timestamp_col=None, classes=tuple(range(20)))
    cand, ref = frame.iloc[:1600].reset_index(drop=True), frame.iloc[1600:].reset_index(drop=True)
    res = guards.reference_model_guard(guards.GuardContext(frame=cand, spec=spec, reference=ref))
    m = res.metrics
    est = reference_anchored(cand, spec, ref).estimate
    assert res.passed and round(m["disagreement"], 3) == 0.654 and round(m["reference_disagreement"], 3) == 0.637 and 0.05 / 21 < m["p_value"] < 1
    assert res.detail.startswith(
        f"no evidence of flips: labels disagree with the reference model on 65.4% of rows vs 63.7% out of fold on the reference "
        f"(p=0.29); EM's flip rate {est:.1%} ({len(res.suspect_ids)} row(s) ranked) is within the model's own errors; worst class ")
    assert m["estimated_flip_rate"] == est > 0.3 and len(res.suspect_ids) == 576  # the figures are still in the JSON, said for what they are


def _many_classes(k: int, n: int, seed: int):
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    from labelguard.tasks.manifest import ColumnSpec

    X, y = make_classification(n_samples=n, n_features=10, n_informative=6, n_redundant=0, n_classes=k, n_clusters_per_class=1,
                               class_sep=1.0, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]).assign(label=y, review_id=np.arange(n))
    spec = ColumnSpec(feature_cols=tuple(f"f{i}" for i in range(10)), timestamp_col=None, classes=tuple(range(k)))
    cut = int(n * 0.8)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True), spec


def test_the_flip_posterior_reads_no_noise_rate_on_clean_many_class_data_and_the_flipped_share_on_flipped_data():
    """Clean 10-class data (1,200 rows, 300 trusted): the pooled posterior's noise_rate was 11.4 % (clean 40-class data:
    17.9 % in verify's JSON), because the transition matrix was fitted on the candidate's rows alone and each row's own
    label pulls its cell: the trusted rows, outside the fit, read lower. Scored in sample too, they read as high, and the
    rate is the excess over them. With 20 % of the labels flipped the excess stands out and the rate is the mean again."""
    from labelguard.tasks import attacks
    from labelguard.tasks.posterior import flip_posterior

    cand, ref, spec = _many_classes(10, 1500, 30)
    clean = flip_posterior(cand, spec, ref)
    assert clean.noise_rate < 0.03 and clean.posterior.mean() > 0.08  # the mean alone reads the fit, not flips
    res = attacks.flip_labels(cand, spec, attack="random", rate=0.2, seed=30)
    flipped = flip_posterior(res.frame, spec, ref)
    assert flipped.noise_rate == float(flipped.posterior.mean()) and 0.15 < flipped.noise_rate < 0.35
