"""Tamper behaviour that the fresh seed-11 mutation sample of tasks/tamper.py (issue 13, fifth
session) found untested: the columns of a signed dataset come from its manifest (not from the
``--id-col``/``--label-col`` defaults), and the lines for a compressed poison input and for forging
where there is no manifest."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labelguard.errors import BadInput
from labelguard.tasks.dataset import load_verified, to_parquet_bytes, write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.tamper import poison_file, tamper


def test_a_signed_dataset_is_tampered_in_the_columns_its_manifest_names(tmp_path, keys):
    """Ingested with id column ``rid`` and label column ``y``; tamper is given neither."""
    frame = make_reviews(200, seed=4).rename(columns={"review_id": "rid", "label": "y"})
    write_dataset(LocalStore(tmp_path / "ds"), frame, ColumnSpec(id_col="rid", label_col="y"), load_signing_key(keys[0]), source={})
    res = tamper(str(tmp_path / "ds"), attack="random", rate=0.05, seed=1, truth_out=tmp_path / "truth.json")
    truth = json.loads((tmp_path / "truth.json").read_text())
    ids = [f["id"] for f in truth["flipped"]]
    assert (res.budget, len(ids)) == (10, 10)
    after = pd.read_parquet(tmp_path / "ds" / "data.parquet")
    changed = after["rid"][after["y"] != frame["y"]].tolist()
    assert sorted(changed) == sorted(ids)
    assert [f["new"] for f in truth["flipped"]] == [1 - f["old"] for f in truth["flipped"]]
    assert load_verified(LocalStore(tmp_path / "ds"), load_verify_key(keys[1])).code == "digest-mismatch"


def test_forging_where_there_is_no_manifest_says_what_to_do(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "data.parquet").write_bytes(to_parquet_bytes(make_reviews(20, seed=1)))
    with pytest.raises(BadInput) as err:
        tamper(str(tmp_path / "plain"), attack="random", rate=0.1, seed=1, truth_out=tmp_path / "t.json", forge_manifest=True)
    assert str(err.value) == (f"no manifest at {tmp_path / 'plain'} to forge (fix: drop --forge-manifest, "
                              "or point at a dataset written by `labelguard ingest`)")
    assert not (tmp_path / "t.json").exists()


def test_poisoning_a_compressed_file_is_refused_with_its_one_line(tmp_path):
    (tmp_path / "x.csv.gz").write_bytes(b"")
    with pytest.raises(BadInput) as err:
        poison_file(tmp_path / "x.csv.gz", tmp_path / "out.csv", attack="random", rate=0.1, seed=1)
    assert str(err.value) == ("x.csv.gz is compressed; poison rewrites label cells in place and writes plain files "
                              "(fix: decompress it first (e.g. gunzip -k x.csv.gz) and poison the plain file)")
    assert not (tmp_path / "out.csv").exists()
