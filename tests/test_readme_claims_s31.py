"""README claims added since the claims table's first walk (819a27b) that no test held (issue 13 item 4; the claim ->
test rows are in bench/RESULTS.md, "Added since 819a27b"): the model gate's row counts the README quotes."""

from __future__ import annotations

import re
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
README = " ".join((ROOT / "README.md").read_text().split())  # one line: the figures are read across line breaks


def _readme_int(pattern: str) -> int:
    found = re.findall(pattern, README)
    assert len(found) == 1, (pattern, found)
    return int(found[0])


def test_the_gate_row_counts_the_readme_quotes_are_the_codes():
    """README (Verdicts and power): with no disagreement the accuracy bound is z²/(n + z²), "so a holdout under 133
    rows vouches only where the candidate's model is right on more rows"; a small class with no row moving "needs
    at least 11 holdout rows to be vouched for, and 11 rows lost to fire at all with two classes"; at --recall-gap
    0.1 "25 rows"; the clean 99:1 class: "14 rows, bound 16.2 %". Each figure is read from the README and
    recomputed from the gate's own functions: the smallest count that vouches / fires, not a copy of the text."""
    from labelguard.tasks.guards import class_recall_damage
    from labelguard.tasks.power import VOUCH_ALPHA, paired_difference_bounds

    def smallest(ok) -> int:
        return next(n for n in range(1, 10_000) if ok(n))

    accuracy_rows = smallest(lambda n: paired_difference_bounds(0, 0, n, VOUCH_ALPHA)[1] < 0.02)
    assert _readme_int(r"so a holdout under (\d+) rows vouches only where") == accuracy_rows == 133

    def vouched(rows: int, gap: float) -> bool:  # a small class beside 1,000 rows of another, nothing moved
        judged = class_recall_damage([(0, 0, 1000), (0, 0, rows)], [0, 1], gap)
        assert list(judged["per_class"]) == ["1"]  # the small class is the one judged
        return judged["blind"] == []

    def fires(lost: int) -> bool:  # two classes, the small one losing `lost` of its 20 rows, winning none
        return class_recall_damage([(0, 0, 1000), (lost, 0, 20)], [0, 1])["fired"] == ["1"]

    assert _readme_int(r"a class needs at least (\d+) holdout rows to be vouched for") == smallest(lambda n: vouched(n, 0.2)) == 11
    assert _readme_int(r"and (\d+) rows lost to fire at all with two classes") == smallest(fires) == 11
    assert _readme_int(r"z²\(1 − gap\)/gap: (\d+) rows at 0\.1\)") == smallest(lambda n: vouched(n, 0.1)) == 25
    bound = class_recall_damage([(0, 0, 1000), (0, 0, 14)], [0, 1])["per_class"]["1"]["drop_upper"]
    assert "clean: 14 rows, bound 16.2 %" in README and f"{bound:.1%}" == "16.2%"
