"""Break-it r17: French labels ('négatif'/'positif') in the encodings a team's exports really have.

enc_t.csv     trusted rows, UTF-8
enc_b1252.csv the batch exported as Windows-1252 (Excel "CSV" on a French Windows)
enc_bmix.csv  the batch in UTF-8, with 3 rows appended from a Windows-1252 export (two exports joined with cat)
enc_blab.csv  the batch as Windows-1252 where only the label holds non-ASCII text (no other accented column)
Usage: python gen_enc.py BASE.csv OUT
"""
import sys
from pathlib import Path

import pandas as pd

src, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
d = pd.read_csv(src, dtype={"id": str})
d["sentiment"] = d["sentiment"].map({1: "positif", 0: "négatif"})
t, b = d.iloc[:1500], d.iloc[1500:]
t.to_csv(out / "enc_t.csv", index=False)
b.to_csv(out / "enc_b1252.csv", index=False, encoding="cp1252")
b.to_csv(out / "enc_blab.csv", index=False, encoding="cp1252")
head = b.iloc[:-3].to_csv(index=False).encode("utf-8")
tail = b.iloc[-3:].to_csv(index=False, header=False).encode("cp1252")
(out / "enc_bmix.csv").write_bytes(head + tail)
# the same, the other way round: a cp1252 export with 3 UTF-8 rows appended
head = b.iloc[:-3].to_csv(index=False).encode("cp1252")
tail = b.iloc[-3:].to_csv(index=False, header=False).encode("utf-8")
(out / "enc_bmix2.csv").write_bytes(head + tail)
