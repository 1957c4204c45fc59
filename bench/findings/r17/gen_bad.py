"""Break-it r17: malformed or borderline files a team really has (each must be refused, exit 2, one line, nothing
written; or, where valid, ingested right). Writes into OUT (default /work/scratch/breakit17/bad).

Usage: python gen_bad.py BASE.csv OUT
"""
import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def main():
    src, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    d = pd.read_csv(src, dtype={"id": str}).iloc[:1500].reset_index(drop=True)
    rng = np.random.default_rng(17010)

    def csv(name, fr, **kw):
        fr.to_csv(out / name, index=False, **kw)

    x = d.copy(); x.loc[10, "id"] = x.loc[11, "id"]; csv("dup_ids.csv", x)
    x = d.copy(); x.loc[10, "id"] = None; csv("empty_id.csv", x)
    csv("zero_rows.csv", d.iloc[:0])
    csv("one_row.csv", d.iloc[:1])
    x = d[d.sentiment == 1]; csv("one_class.csv", x)
    for tok, name in [("NA", "na"), ("null", "null"), ("", "emptylab"), ("None", "none"), ("n/a", "nalower"),
                      ("-", "dash"), ("?", "qmark")]:
        x = d.copy().astype({"sentiment": object}); x.loc[rng.choice(1500, 40, replace=False), "sentiment"] = tok
        csv(f"lab_{name}.csv", x)
    x = d.copy(); x["sentiment"] = x["sentiment"].map({1: "pos", 0: "neg"}); x.loc[[5, 9, 20], "sentiment"] = "Pos"
    csv("lab_case.csv", x)
    x = d.copy(); x["sentiment"] = x["sentiment"].map({1: "pos", 0: "neg"}); x.loc[[5, 9, 20], "sentiment"] = "pos "
    csv("lab_space.csv", x)
    x = d.copy().astype({"sentiment": object}); x.loc[x.sentiment == 1, "sentiment"] = "1"
    x.loc[[3, 4, 5, 6], "sentiment"] = "1.0"; csv("lab_1_10.csv", x)          # one number written two ways
    x = d.copy().astype({"sentiment": object}); x.loc[[3, 4, 5, 6], "sentiment"] = " 1"
    csv("lab_lead_space_num.csv", x)
    x = d.copy(); x["sentiment"] = x["sentiment"].map({1: "True", 0: "False"}); x.loc[[3, 4], "sentiment"] = "true"
    csv("lab_bool_case.csv", x)
    x = d.copy(); x["sentiment"] = x["sentiment"].map({1: "yes", 0: "no"}); x.loc[[3, 4], "sentiment"] = "Yes"
    csv("lab_yes_case.csv", x)
    x = d.copy(); x["sentiment"] = x["sentiment"].map({1: "1", 0: "0"}); x.loc[[3, 4], "sentiment"] = "1e0"
    csv("lab_1e0.csv", x)
    x = d.copy(); x["sentiment"] = x["sentiment"] + rng.normal(0, 0.01, len(x)); csv("lab_cont.csv", x)
    csv("headerless.csv", d, header=False)
    (out / "trailing_blank.csv").write_text(d.to_csv(index=False) + "\n\n")
    (out / "utf16le_nobom.csv").write_bytes(d.to_csv(index=False).encode("utf-16-le"))
    (out / "empty.csv").write_bytes(b"")
    (out / "gz_named.csv").write_bytes(gzip.compress(d.to_csv(index=False).encode()))
    pq.write_table(pa.Table.from_pandas(d, preserve_index=False), out / "pq_named.csv")
    (out / "csv_named.parquet").write_text(d.to_csv(index=False))
    pq.write_table(pa.Table.from_pandas(d, preserve_index=False), out / "whole.parquet")
    raw = (out / "whole.parquet").read_bytes(); (out / "truncated.parquet").write_bytes(raw[: len(raw) // 2])
    x = d.copy(); x.loc[7, "polarity"] = np.inf; csv("inf_feature.csv", x)
    x = d.copy(); x["polarity"] = x["polarity"].astype(object); x.loc[7, "polarity"] = "abc"; csv("text_in_num.csv", x)
    x = d.copy(); x["empty_feat"] = np.nan; csv("allnan_feat.csv", x)
    x = d.copy(); x.loc[rng.choice(1500, 30, replace=False), "polarity"] = np.nan; csv("nan_feat.csv", x)
    x = d.copy(); x["sentiment"] = x["sentiment"].astype("Int64"); x.loc[[3, 4, 5], "sentiment"] = pd.NA
    pq.write_table(pa.Table.from_pandas(x, preserve_index=False), out / "pq_null_label.parquet")
    x = d.copy(); x["id"] = np.arange(1500, dtype=float); x.loc[3, "id"] = np.nan
    pq.write_table(pa.Table.from_pandas(x, preserve_index=False), out / "pq_nan_id.parquet")
    x = d.copy(); x.loc[3, "id"] = None
    pq.write_table(pa.Table.from_pandas(x, preserve_index=False), out / "pq_null_id.parquet")
    x = d.copy(); x["id"] = np.arange(1500); x.loc[3, "id"] = 4  # int ids, one duplicated
    pq.write_table(pa.Table.from_pandas(x, preserve_index=False), out / "pq_dup_int_id.parquet")
    # ids that differ only in case: 'A1' and 'a1' -- a case-insensitive warehouse key would merge them
    x = d.copy(); x.loc[3, "id"] = x.loc[4, "id"].upper(); csv("ids_case.csv", x)
    # one id with leading zeros beside the same number without: '007' and '7'
    x = d.copy(); x["id"] = [str(i) for i in range(1500)]; x.loc[3, "id"] = "0007"; x.loc[7, "id"] = "7"
    csv("ids_zero_twins.csv", x)
    # numeric feature columns in styles a team's exports have (F3): percentages, two decimal-comma typos, padded, '-'
    x = d.copy(); x["polarity"] = (x.polarity * 10).round(2).astype(str) + "%"; csv("pct.csv", x)
    x = d.copy(); x["polarity"] = x.polarity.astype(object); x.loc[x.index[:2], "polarity"] = "1,5"; csv("onecomma.csv", x)
    x = d.copy(); x["polarity"] = x.polarity.map(lambda v: f" {v:.4f} "); csv("spaces_num.csv", x)
    x = d.copy(); x["polarity"] = x.polarity.astype(object); x.loc[x.index[:20], "polarity"] = "-"; csv("dash_num.csv", x)
    # F7: text labels with 3 cells 'NA' (R's write.csv for a missing label) and with 3 cells 'None'
    for tok, name in [("NA", "lab_na_str"), ("None", "lab_none_str")]:
        x = d.copy(); x["sentiment"] = x["sentiment"].map({1: "pos", 0: "neg"}); x.loc[[1, 2, 3], "sentiment"] = tok
        csv(f"{name}.csv", x)
    # a label column named like the default ( 'label') and a second 'Label'
    x = d.copy(); x["Label"] = x["sentiment"]; x = x.rename(columns={"sentiment": "label"}); csv("label_twins.csv", x)


if __name__ == "__main__":
    main()
