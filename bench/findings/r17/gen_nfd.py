"""Break-it r17: label 'négatif' written in Unicode NFD (e + combining acute, as macOS file names and some macOS
exports write it) instead of NFC (é). Both print identically.
nfd_b.csv : the batch (rows 1500-2999) with every 'négatif' in NFD   (trusted file: gen_enc.py's enc_t.csv, NFC)
nfd_mix.csv: the trusted rows with 40 of the 'négatif' labels in NFD (two spellings in one file)
Usage: python gen_nfd.py BASE.csv OUT"""
import sys
import unicodedata
from pathlib import Path
import pandas as pd
src, out = sys.argv[1], Path(sys.argv[2])
d = pd.read_csv(src, dtype={"id": str})
nfc, nfd = unicodedata.normalize("NFC", "négatif"), unicodedata.normalize("NFD", "négatif")
d["sentiment"] = d["sentiment"].map({1: "positif", 0: nfc})
b = d.iloc[1500:].copy(); b["sentiment"] = b["sentiment"].replace({nfc: nfd}); b.to_csv(out / "nfd_b.csv", index=False)
t = d.iloc[:1500].copy(); idx = t.index[t.sentiment == nfc][:40]; t.loc[idx, "sentiment"] = nfd
t.to_csv(out / "nfd_mix.csv", index=False)
print(len(nfc), len(nfd), nfc == nfd)
