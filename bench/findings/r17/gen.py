"""Break-it r17: a data engineer's own files, in odd-but-valid formats.

For each variant V writes into OUT (default /work/scratch/breakit17/d):
  V_t.EXT     the first 1,500 rows of `labelguard sample --rows 3000 --seed 17001` (the "trusted" file)
  V_b.EXT     the other 1,500 rows (the batch)
  V_f.EXT     the batch with 10 % of its rows (150, all of the positive class) relabelled negative, by me

Usage: python gen.py BASE.csv OUT [VARIANT ...]
"""
import csv
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 17002
PHRASES = [
    "très bon produit, livré à temps",
    "naïve crème brûlée, goût étrange",
    'he said "fine", then returned it',
    "line one of the note\nline two, after a newline",
    "Größe passt, Qualität mäßig",
    "ok; nothing special; would buy again",
    "café au lait colour, señor approved",
    "tab\tinside the text cell here",
    "plain words for a plain review of it",
    "zażółć gęślą jaźń test phrase here",
]


def base(path):
    d = pd.read_csv(path, dtype={"id": str})
    rng = np.random.default_rng(SEED)
    d["comment"] = rng.choice(PHRASES, size=len(d))
    return d


def split_flip(d, label="sentiment", pos=1, neg=0):
    t = d.iloc[:1500].reset_index(drop=True)
    b = d.iloc[1500:].reset_index(drop=True)
    f = b.copy()
    rng = np.random.default_rng(SEED + 1)
    cand = np.flatnonzero((f[label] == pos).to_numpy())
    pick = rng.choice(cand, size=150, replace=False)
    f.loc[pick, label] = neg
    return t, b, f


def w_csv(frames, out, name, ext="csv", **kw):
    for suf, fr in zip("tbf", frames):
        fr.to_csv(out / f"{name}_{suf}.{ext}", index=False, **kw)


def w_pq(frames, out, name, tables=None):
    for suf, fr in zip("tbf", frames):
        tb = tables(fr) if tables else pa.Table.from_pandas(fr, preserve_index=False)
        pq.write_table(tb, out / f"{name}_{suf}.parquet")


def main():
    src, out = sys.argv[1], Path(sys.argv[2])
    want = set(sys.argv[3:])
    out.mkdir(parents=True, exist_ok=True)
    d = base(src)

    def on(v):
        return not want or v in want

    if on("tab"):
        w_csv(split_flip(d), out, "tab", sep="\t", quoting=csv.QUOTE_MINIMAL)
    if on("semi"):  # semicolon + decimal comma (a European Excel export)
        w_csv(split_flip(d), out, "semi", sep=";", decimal=",")
    if on("crlf"):
        w_csv(split_flip(d), out, "crlf", lineterminator="\r\n")
    if on("utf16"):  # UTF-16 with its BOM (Excel's "Unicode text")
        w_csv(split_flip(d), out, "utf16", encoding="utf-16", sep="\t")
    if on("latin1"):
        dd = d.copy()
        dd["comment"] = dd["comment"].str.replace("zażółć gęślą jaźń", "àéîõü ÿ", regex=False)
        w_csv(split_flip(dd), out, "latin1", encoding="latin-1")
    if on("bom"):
        w_csv(split_flip(d), out, "bom", encoding="utf-8-sig")
    if on("names"):  # text labels pos/neg
        dd = d.copy()
        dd["sentiment"] = dd["sentiment"].map({1: "pos", 0: "neg"})
        w_csv(split_flip(dd, pos="pos", neg="neg"), out, "names")
    if on("floatlab"):  # labels written 1.0 / 0.0
        dd = d.copy()
        dd["sentiment"] = dd["sentiment"].astype(float)
        w_csv(split_flip(dd, pos=1.0, neg=0.0), out, "floatlab")
    if on("boollab"):  # True/False
        dd = d.copy()
        dd["sentiment"] = dd["sentiment"].astype(bool)
        w_csv(split_flip(dd, pos=True, neg=False), out, "boollab")
        w_pq(split_flip(dd, pos=True, neg=False), out, "boollab")
    if on("catlab"):  # Parquet dictionary (pandas categorical) labels
        dd = d.copy()
        dd["sentiment"] = dd["sentiment"].map({1: "pos", 0: "neg"}).astype("category")
        w_pq(split_flip(dd, pos="pos", neg="neg"), out, "catlab")
    if on("int64n"):  # nullable Int64 labels, no nulls
        dd = d.copy()
        dd["sentiment"] = dd["sentiment"].astype("Int64")
        w_pq(split_flip(dd), out, "int64n")
    if on("decimal"):  # decimal128 features
        def tb(fr):
            t = pa.Table.from_pandas(fr, preserve_index=False)
            for c in ("polarity", "intensity"):
                vals = [Decimal(f"{x:.6f}") for x in fr[c]]
                t = t.set_column(t.schema.get_field_index(c), c, pa.array(vals, pa.decimal128(12, 6)))
            return t
        w_pq(split_flip(d), out, "decimal", tb)
    if on("tz"):  # timestamp with a time zone, and a list column
        dd = d.copy()
        dd["created_at"] = pd.to_datetime(dd["created_at"]).dt.tz_convert("Europe/Berlin")
        dd["tags"] = [["a", "b"][: i % 3] for i in range(len(dd))]
        w_pq(split_flip(dd), out, "tz")
    if on("bytes"):  # label column of bytes
        dd = d.copy()
        dd["sentiment"] = dd["sentiment"].map({1: b"pos", 0: b"neg"})
        w_pq(split_flip(dd, pos=b"pos", neg=b"neg"), out, "bytes")
    if on("uuid"):
        dd = d.copy()
        rng = np.random.default_rng(SEED + 5)
        dd["id"] = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(len(dd))]
        w_csv(split_flip(dd), out, "uuid")
    if on("zeros"):  # numeric-looking ids with leading zeros
        dd = d.copy()
        dd["id"] = [f"{i:08d}" for i in range(len(dd))]
        w_csv(split_flip(dd), out, "zeros")
    if on("floatid"):
        dd = d.copy()
        dd["id"] = np.arange(len(dd)) * 1.5
        w_csv(split_flip(dd), out, "floatid")
        w_pq(split_flip(dd), out, "floatid")
    if on("wide"):  # 400 extra noise columns
        dd = d.copy()
        rng = np.random.default_rng(SEED + 6)
        extra = pd.DataFrame(rng.normal(size=(len(dd), 400)), columns=[f"x{i:03d}" for i in range(400)])
        dd = pd.concat([dd, extra], axis=1)
        w_pq(split_flip(dd), out, "wide")
    if on("qnl"):  # quoted newlines in a text column, every cell quoted
        w_csv(split_flip(d), out, "qnl", quoting=csv.QUOTE_ALL)


if __name__ == "__main__":
    main()
