"""Break-it round 13: the findings of bench/findings/breakit-r13.md (what a person sees in reports, scheduled use,
free text and many classes, configuration as Prefect reads it). Each test failed on the code before its fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.clirun import invoke


def _text_csv(path, rows: int = 200, long_cell: int = 0):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    review = [f"review {i} très bien 😀 " + ("good" if v else "bad") for i, v in enumerate(y)]
    if long_cell:
        review[0] = ('très long, "avis"\n' * (long_cell // 18 + 1))[:long_cell]
    pd.DataFrame({"rid": [f"r{i}" for i in range(rows)], "f1": y * 3 + rng.normal(0, 1, rows), "f2": rng.normal(0, 1, rows),
                  "review": review, "label": np.where(y == 1, "pos", "neg")}).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- finding 8: poison and a cell over 131,072 characters


def test_poison_takes_a_csv_whose_cell_is_longer_than_pythons_csv_field_limit(tmp_path):
    """`poison` of a CSV with a 216,000-character review (a file ingest reads) failed: "unexpected Error: field larger than
    field limit (131072)", exit 2."""
    src = _text_csv(tmp_path / "long.csv", long_cell=200_000)
    out, truth = tmp_path / "p.csv", tmp_path / "t.json"
    res = invoke("poison", src, "--attack", "random", "--rate", 0.05, "--out", out, "--truth-out", truth,
                 "--id-col", "rid", "--label-col", "label", "--positive-class", "pos")
    assert (res.exit_code, res.stderr) == (0, "")
    before, after = (pd.read_csv(p, keep_default_na=False) for p in (src, out))
    flipped = {f["id"] for f in json.loads(truth.read_text())["flipped"]}
    assert len(flipped) == 10
    assert set(before.rid[before.label != after.label]) == flipped
    assert before.drop(columns="label").equals(after.drop(columns="label"))
    assert len(after.review[0]) == 200_000
