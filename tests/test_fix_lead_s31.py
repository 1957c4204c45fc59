"""Characters no installed font draws, in the report's plot (break-it r15 F3, left by the round: CJK class names were drawn
as empty boxes, every class alike). Each test failed on the code before the fix."""

from __future__ import annotations

import json

import pytest


def test_a_character_no_font_draws_is_written_as_an_escape_and_named():
    """U+0378 is unassigned: no font has it. Its text is written with the escape, the rest kept; the word is returned once."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from labelguard.tasks.report import drawable_text, escape_undrawable

    fig, ax = plt.subplots()
    ax.set_title("café \u0378x")
    ax.scatter([0], [0], label="labelled '\u0378x'")
    ax.scatter([1], [1], label="labelled 'é'")
    ax.legend()
    try:
        assert escape_undrawable(fig) == ["\u0378x"]
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert texts == ["labelled '\\u0378x'", "labelled 'é'"]
        assert ax.get_title() == "café \\u0378x"
        assert escape_undrawable(fig) == []  # nothing left to escape
    finally:
        plt.close(fig)
    assert drawable_text("a\U0010fffdb") == "a\\U0010fffdb"  # beyond the basic plane: eight digits


def test_cjk_class_names_are_told_apart_in_the_legend_and_the_report_says_why(tmp_path, monkeypatch):
    """Two classes named in Chinese on a machine whose fonts lack CJK: the legend drew both as 'labelled '□□'' (one
    picture for two classes), and nothing said so. Now the legend writes escapes, report.md says which names and the fix,
    and report.json lists them."""
    from labelguard.tasks import train
    from labelguard.tasks.report import RunResult, _can_draw, write_report
    from tests.test_fix_findings_r8 import boundaries_figure, clustered_classes, legend_extents

    if _can_draw("正"):
        pytest.skip("a font on this machine draws CJK: nothing to escape")
    names = ["正面", "负面"]
    frame, spec = clustered_classes(names, seed=7, spread=6)
    fig, real_close = boundaries_figure(frame, spec, tmp_path, monkeypatch)
    _, _, _, texts = legend_extents(fig)
    real_close(fig)
    assert texts == ["labelled '\\u6b63\\u9762'", "labelled '\\u8d1f\\u9762'", "this model's boundary"]
    model = train.train_model(frame, spec)
    run = RunResult("ds", "honest", 0.0, 0, False, spec, frame=frame, model=model, metrics=train.evaluate(model, frame, spec))
    paths = write_report({"pipeline": run}, tmp_path / "rep")
    assert paths["plot"].stat().st_size > 0
    assert paths["markdown"].read_text().endswith(
        "\nNo font installed here draws 正面, 负面: the plot writes their characters as \\u escapes "
        "(fix: install a font that has them, e.g. Noto Sans CJK, and run again).\n")
    assert json.loads(paths["json"].read_text())["plot_escaped_text"] == names


# ---------------------------------------------------------------- break-it r16 F5: a row among its own duplicates


def test_a_row_is_never_its_own_neighbour_among_its_duplicates():
    """Rows that repeat are at distance 0 from each other and from themselves: the search may return a duplicate first,
    and dropping the first column kept the row as its own (agreeing) neighbour. Each row's k neighbours are other rows."""
    import numpy as np

    from labelguard.tasks.detectors import other_neighbours, self_neighbours

    Z = np.array([[0.0]] * 6 + [[1.0]] * 3 + [[9.0]])
    full = self_neighbours(Z, 3)
    assert any(full[i, 0] != i for i in range(len(Z)))  # the case: some row's first neighbour is a duplicate, not itself
    idx = other_neighbours(Z, 3)
    assert idx.shape == (10, 3)
    assert all(i not in idx[i] for i in range(len(Z)))
    assert set(idx[9]) == {6, 7, 8}  # the lone row: its three nearest others, in the search's order
    assert all(set(idx[i]) <= set(range(6)) for i in range(6))  # a row with five duplicates: three of them


def _binary_features(seed: int, n: int = 3000):
    """7 Bernoulli features (128 cells, ~19 training rows a cell) and a label drawn from a logistic model of them: every
    feature row repeats, with natural label noise inside a cell (break-it r16's `gen.py binary`)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = (rng.random((n, 7)) < [0.5, 0.3, 0.6, 0.2, 0.5, 0.4, 0.7]).astype(float)
    s = X @ np.array([1.5, -1.0, 0.8, 1.2, -0.6, 0.3, 0.0]) - 0.9
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * s))).astype(int)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(7)])
    frame["label"], frame["review_id"] = y, np.arange(n)
    return frame


def test_clean_binary_features_do_not_fire_knn_consistency():
    """Clean data on binary features fired knn_consistency (break-it r16 F5: 2 of 10 clean seeds through the CLI; here
    seed 37 of 40): a row counted as its own neighbour weighs more among the 600 trusted rows (~5 a cell, the rest of
    the ten from other cells) than among the 2,400 candidate rows (~19 a cell), so the reference's rate read low
    (12.5 % vs 7.5 %, p = 0.00027). With each row's neighbours other rows, both read alike: 12.7 % vs 10.7 %, p = 0.087.
    Since break-it r18 F1 every row tied with the tenth counts and the trusted rows are scored against the candidate's
    rows: 9.6 % vs 8.8 %, p = 0.28."""
    import numpy as np
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from labelguard.tasks import detectors, guards
    from labelguard.tasks.guards import GuardContext
    from labelguard.tasks.manifest import ColumnSpec

    spec = ColumnSpec(feature_cols=tuple(f"f{i}" for i in range(7)), timestamp_col=None, classes=(0, 1))
    data = _binary_features(37)
    cand, ref = (part.reset_index(drop=True) for part in train_test_split(data, test_size=0.2, stratify=data.label, random_state=37))

    def first_column_dropped(frame):  # the rule as it was: the search's first neighbour taken for the row itself
        X, codes, _ = detectors._xy(frame, spec)
        idx = detectors.self_neighbours(StandardScaler().fit_transform(X), 10)
        return (codes[idx[:, 1:]] != codes[:, None]).mean(axis=1) >= 0.7

    was, was_ref = first_column_dropped(cand), first_column_dropped(ref)
    assert guards._excess(int(was.sum()), 2400, int(was_ref.sum()), 600) < guards.ALPHA  # the data fired the rule as it was
    res = guards.knn_consistency_guard(GuardContext(frame=cand, spec=spec, reference=ref))
    assert res.verdict == "pass"
    assert res.detail == ("231 of 2400 rows disagree with their neighbourhood (9.6% vs 8.8% of the trusted rows, each scored against "
                          "these rows; one-sided p=0.28, fires below 0.001)")
    flagged = detectors.knn_consistency(cand, spec).suspect
    assert sorted(res.suspect_ids) == sorted(cand["review_id"][flagged].tolist()) and int(flagged.sum()) == 231
    assert int(np.sum(flagged & ~was)) > 0  # rows that the row itself had kept from the count


# ---------------------------------------------------------------- break-it r16 F6: what a fired verdict's rows are


def test_rows_are_called_suspects_only_when_a_guard_that_names_rows_fired():
    """Boundary flips fired class_conditional, which names no row, and verify listed the posterior's 29 rows as "suspect
    rows": none was flipped. The rows are the suspects only when a fired guard points at rows; otherwise the line says
    which guard fired and that it names none."""
    from labelguard.tasks.guards import GuardResult
    from labelguard.tasks.verify import VerifyReport

    shift = GuardResult("class_conditional", False, "class 1: mean shift 0.4 sd (p=1e-05)")
    gate = GuardResult("model_gate", False, "holdout accuracy 0.80 vs reference 0.90 (p=1e-06)")
    named = GuardResult("reference_model", False, "estimated flip rate 5.0%, 3 suspect row(s)", suspect_ids=[4, 8, 15])
    calm = GuardResult("knn_consistency", True, "3 of 300 rows disagree with their neighbourhood", suspect_ids=[1, 2, 3])

    def heading(results, verdict="fired"):
        return VerifyReport("ds", results, suspect_ids=[4, 8], suspects_from=["flip_posterior"], verdict=verdict).suspects_heading

    assert heading([shift, calm]) == "rows most likely flipped, though the guard that fired (class_conditional) names none"
    assert heading([shift, gate, calm]) == "rows most likely flipped, though the guards that fired (class_conditional, model_gate) name none"
    assert heading([shift, named]) == "suspect rows"
    assert heading([calm], verdict="inconclusive") == "rows most likely flipped, though nothing fired"
