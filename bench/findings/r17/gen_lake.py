"""Break-it r17: an existing hive-style lake (date=.../part-*.parquet) whose schema drifts between partitions.

Each lake: 3 partitions of 500 rows (rows of `labelguard sample --rows 3000 --seed 17001`), the last one drifted.
Usage: python gen_lake.py BASE.csv OUT
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

DATES = ["2026-01-01", "2026-01-02", "2026-01-03"]


def write(root, parts):
    for date, fr in zip(DATES, parts):
        p = root / f"date={date}"
        p.mkdir(parents=True, exist_ok=True)
        tb = fr if isinstance(fr, pa.Table) else pa.Table.from_pandas(fr, preserve_index=False)
        pq.write_table(tb, p / "part-00000-c000.snappy.parquet")


def main():
    src, out = sys.argv[1], Path(sys.argv[2])
    d = pd.read_csv(src, dtype={"id": str}).iloc[:1500].reset_index(drop=True)
    parts = [d.iloc[i * 500:(i + 1) * 500].reset_index(drop=True) for i in range(3)]

    def drift(fn):
        p = [x.copy() for x in parts]
        p[2] = fn(p[2])
        return p

    write(out / "lake_ok", parts)
    write(out / "lake_labstr", drift(lambda x: x.assign(sentiment=x.sentiment.astype(str))))
    write(out / "lake_labfloat", drift(lambda x: x.assign(sentiment=x.sentiment.astype(float))))
    write(out / "lake_labbool", drift(lambda x: x.assign(sentiment=x.sentiment.astype(bool))))
    write(out / "lake_newcol", drift(lambda x: x.assign(discount=np.linspace(0, 1, len(x)))))
    write(out / "lake_dropcol", drift(lambda x: x.drop(columns=["intensity"])))
    write(out / "lake_featstr", drift(lambda x: x.assign(polarity=x.polarity.map(lambda v: f"{v:.6f}"))))
    # the file itself holds a 'date' column that disagrees with its folder
    write(out / "lake_datecol", [x.assign(date="1999-12-31") for x in parts])
    # label case drift: the last partition spells classes in upper case
    named = [x.assign(sentiment=x.sentiment.map({1: "pos", 0: "neg"})) for x in parts]
    named[2] = named[2].assign(sentiment=named[2].sentiment.str.upper())
    write(out / "lake_labcase", named)
    # feature renamed in case only
    write(out / "lake_colcase", drift(lambda x: x.rename(columns={"polarity": "Polarity"})))
    # int ids in the first partitions, string ids in the last
    p = [x.assign(id=np.arange(i * 500, (i + 1) * 500)) for i, x in enumerate(parts)]
    p[2] = p[2].assign(id=p[2].id.astype(str))
    write(out / "lake_idtype", p)
    # same id in two partitions with different labels (a row re-exported after relabelling)
    p = [x.copy() for x in parts]
    dup = p[0].iloc[:5].copy(); dup["sentiment"] = 1 - dup["sentiment"]
    p[2] = pd.concat([p[2], dup], ignore_index=True)
    write(out / "lake_dupid", p)


if __name__ == "__main__":
    main()
