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
