"""The r18 sweep, in one process, through the plain functions `ingest`, `baseline` and `verify` call (no Prefect).

    hunt.py OUTDIR KIND SEED [SEED ...]

Per seed: part a (gen.py) ingested with the default 20 % trusted holdout and verified (`verify A`); a baselined
(`baseline A --out A_base`); part b ingested with `--holdout-fraction 0` and verified against the first
(`verify B --reference A_base --holdout A/holdout`); part b with 10 % of its rows relabelled to another class (uniform)
verified the same way. One JSON line per verify in OUTDIR/results.jsonl. Spot checks through the CLI: case.sh.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from gen import gen  # noqa: E402

from labelguard.tasks import dataset, sources  # noqa: E402
from labelguard.tasks.manifest import DatasetRef, generate_keypair, load_signing_key, load_verify_key, new_dataset_id  # noqa: E402
from labelguard.tasks.storage import LocalStore  # noqa: E402
from labelguard.tasks.verify import make_baseline, verify_dataset  # noqa: E402
import labelguard.tasks.detectors, labelguard.tasks.guards, labelguard.tasks.posterior, labelguard.tasks.power  # noqa: E402,F401  (all code loaded now: an A/B run of two versions can swap the files after the start)


def ingest(csv: Path, dest: Path, key, seed: int, holdout: float, text_cols=None):
    """What `labelguard ingest --source CSV --dest DEST --label-col label --id-col review_id --timestamp-col none` does."""
    frame, spec, meta = sources.load_source(str(csv), id_col="review_id", label_col="label", timestamp_col=None, text_cols=text_cols)
    root = LocalStore(dest)
    ds_id = new_dataset_id(str(dest))
    if holdout > 0:
        train, ho = sources.split_holdout(frame, spec, holdout, seed)
        dataset.write_dataset(root.child(dataset.HOLDOUT), ho, spec, key, source={**meta, "part": "holdout"},
                              dataset=DatasetRef(ds_id, role="holdout", part=dataset.HOLDOUT))
    else:
        train = frame
    dataset.write_dataset(root, train, spec, key, source={**meta, "part": "train"}, dataset=DatasetRef(ds_id, role="data"))


def flip(csv_in: Path, csv_out: Path, rate: float, seed: int) -> int:
    import pandas as pd

    df = pd.read_csv(csv_in)
    rng = np.random.default_rng([seed, 7])
    classes = np.unique(df["label"])
    pick = rng.choice(len(df), size=int(round(rate * len(df))), replace=False)
    lab = df["label"].to_numpy().copy()
    for i in pick:
        lab[i] = rng.choice(classes[classes != lab[i]])
    df["label"] = lab
    df.to_csv(csv_out, index=False)
    return len(pick)


def summarize(rep) -> dict:
    return {
        "verdict": rep.verdict, "detail": rep.verdict_detail,
        "fired": [g.name for g in rep.guards if g.verdict == "fired"],
        "inconclusive": [g.name for g in rep.guards if g.verdict == "inconclusive"],
        "guards": {g.name: [g.verdict, g.detail[:300]] for g in rep.guards},
        "model": (rep.inputs.get("detector_model") or {}).get("family"),
    }


def main() -> None:
    out = Path(sys.argv[1]); kind = sys.argv[2]; seeds = [int(s) for s in sys.argv[3:]]
    out.mkdir(parents=True, exist_ok=True)
    print("imported", flush=True)
    keys = out / "keys"
    if not (keys / "signing.key").exists():
        generate_keypair(keys)
    skey, vkey = load_signing_key(keys / "signing.key"), load_verify_key(keys / "verify.pub")
    text_cols = ["text"] if kind == "text" else None
    for seed in seeds:
        tag = f"{kind}_{seed}"
        work = out / tag
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        a, b, bf = work / "a.csv", work / "b.csv", work / "b_flip.csv"
        gen(kind, seed, "a", None).to_csv(a, index=False)
        gen(kind, seed, "b", None).to_csv(b, index=False)
        nflip = flip(b, bf, 0.10, seed)
        ingest(a, work / "A", skey, seed, 0.2, text_cols)
        make_baseline(str(work / "A"), str(work / "A_base"), vkey, skey)
        ingest(b, work / "B", skey, seed, 0.0, text_cols)
        ingest(bf, work / "BF", skey, seed, 0.0, text_cols)
        runs = [("A", str(work / "A"), None, None), ("B", str(work / "B"), str(work / "A_base"), str(work / "A" / "holdout")),
                ("BF", str(work / "BF"), str(work / "A_base"), str(work / "A" / "holdout"))]
        for name, uri, ref, ho in runs:
            t0 = time.perf_counter()
            try:
                rep = verify_dataset(uri, vkey, reference_uri=ref, holdout_uri=ho)
                row = summarize(rep)
            except Exception as exc:  # noqa: BLE001 - a crash is a finding too
                row = {"verdict": "error", "detail": f"{type(exc).__name__}: {exc}"[:400], "fired": [], "inconclusive": []}
            row.update(kind=kind, seed=seed, run=name, flips=nflip if name == "BF" else 0, seconds=round(time.perf_counter() - t0, 1))
            with open(out / "results.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{tag} {name}: {row['verdict']} fired={row['fired']} inc={row['inconclusive']} {row['seconds']}s :: {row['detail'][:160]}", flush=True)


if __name__ == "__main__":
    main()
