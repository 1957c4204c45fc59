"""Compressed CSV exports (`.csv.gz`, `.csv.bz2`, `.csv.xz`): ingest reads them as the plain file,
poison refuses them in one line (it rewrites cells in place), and a corrupt one is bad input."""

from __future__ import annotations

import bz2
import gzip
import lzma

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks.dataset import load_verified
from labelguard.tasks.manifest import load_verify_key
from labelguard.tasks.readers import read_file
from labelguard.tasks.storage import open_store

runner = CliRunner()
CODECS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}


@pytest.fixture
def plain(tmp_path):
    rng = np.random.default_rng(7)
    n = 400
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame({"sku": [f"A-{i:04d}" for i in range(n)], "x": rng.normal(2.0 * y, 1.0), "stars": rng.integers(1, 6, n), "label": np.where(y == 1, "liked", "disliked")})
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, sep=";", index=False)
    return path


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_each_codec_reads_as_the_plain_file(plain, tmp_path, suffix):
    packed = tmp_path / f"reviews.csv{suffix}"
    packed.write_bytes(CODECS[suffix](plain.read_bytes()))
    (a, dialect_a), (b, dialect_b) = read_file(plain, id_col="sku"), read_file(packed, id_col="sku")
    assert a.equals(b) and dialect_a == dialect_b and dialect_b.delimiter == ";"


def test_a_compressed_csv_is_ingested_exactly_as_the_plain_file(plain, tmp_path, keys):
    suffix = ".gz"
    packed = tmp_path / f"reviews.csv{suffix}"
    packed.write_bytes(CODECS[suffix](plain.read_bytes()))
    common = ["--label-col", "label", "--id-col", "sku", "--positive-class", "liked", "--signing-key", str(keys[0])]
    for src, dest in ((plain, tmp_path / "a"), (packed, tmp_path / "b")):
        res = runner.invoke(app, ["ingest", "--source", str(src), "--dest", str(dest), *common])
        assert res.exit_code == 0, res.output
    a, b = (load_verified(open_store(str(tmp_path / d)), load_verify_key(keys[1])) for d in "ab")
    assert a.ok and b.ok
    # the same rows, ids as written, same signed content digest
    assert a.frame.equals(b.frame) and b.frame["sku"].iloc[0] == "A-0000"
    assert a.manifest.payload["objects"][0]["sha256"] == b.manifest.payload["objects"][0]["sha256"]


def test_poison_refuses_a_compressed_file_and_a_corrupt_one_is_bad_input(plain, tmp_path, keys):
    packed = tmp_path / "reviews.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    res = runner.invoke(app, ["poison", str(packed), "--attack", "random", "--rate", "0.05", "--out", str(tmp_path / "p.csv.gz"),
                              "--truth-out", str(tmp_path / "t.csv"), "--label-col", "label", "--id-col", "sku"])
    assert res.exit_code == 2
    assert res.stderr.strip() == ("error: reviews.csv.gz is compressed; poison rewrites label cells in place and writes plain files "
                                  "(fix: decompress it first (e.g. gunzip -k reviews.csv.gz) and poison the plain file)")
    assert not (tmp_path / "p.csv.gz").exists() and not (tmp_path / "t.csv").exists()
    broken = tmp_path / "cut.csv.gz"
    broken.write_bytes(gzip.compress(plain.read_bytes())[:200])
    res = runner.invoke(app, ["ingest", "--source", str(broken), "--dest", str(tmp_path / "c"), "--label-col", "label", "--id-col", "sku", "--signing-key", str(keys[0])])
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("error: cut.csv.gz is not valid gzip data: ") and res.stderr.strip().endswith(
        "(fix: check the file is complete, or name it without the 'gz' suffix if it is not compressed)")
    assert not (tmp_path / "c").exists()
