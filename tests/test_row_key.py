"""`--id-col auto`: data without an id column gets a stable row key instead of a refusal."""

import pandas as pd
import pytest

from labelguard.errors import BadInput
from labelguard.tasks.sources import ROW_KEY, load_source


def test_auto_id_is_the_row_position_and_keeps_every_other_column(tmp_path):
    frame = pd.DataFrame({"sentiment": [0, 1, 1, 0, 1, 0], "score": [0.1, 2.0, 1.5, -0.3, 2.2, 0.0], "note": list("abcdef")})
    frame.to_csv(tmp_path / "noid.csv", index=False)
    loaded, spec, _ = load_source(str(tmp_path / "noid.csv"), id_col="auto", label_col="sentiment", timestamp_col=None)
    assert spec.id_col == ROW_KEY
    assert loaded[ROW_KEY].tolist() == [0, 1, 2, 3, 4, 5]
    assert loaded["score"].tolist() == frame["score"].tolist() and loaded["note"].tolist() == frame["note"].tolist()


def test_auto_id_refuses_to_shadow_an_existing_row_key(tmp_path):
    pd.DataFrame({"row_key": [5, 6], "label": [0, 1], "x": [1.0, 2.0]}).to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(BadInput, match="already has one"):
        load_source(str(tmp_path / "f.csv"), id_col="auto", timestamp_col=None)
