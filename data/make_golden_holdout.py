"""Regenerate data/golden_holdout: 1,000 default synthetic reviews, signed by a key whose private half is discarded.

Run from the repository root: .venv/bin/python data/make_golden_holdout.py (refuses to overwrite).
"""

import tempfile
from pathlib import Path

from labelguard.tasks.dataset import write_dataset
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, generate_keypair, load_signing_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews

SEED = 20261128

if __name__ == "__main__":
    out = Path(__file__).parent / "golden_holdout"
    with tempfile.TemporaryDirectory() as tmp:
        sign, verify = generate_keypair(Path(tmp))
        frame = make_reviews(1000, seed=SEED)
        write_dataset(
            LocalStore(out), frame, ColumnSpec(), load_signing_key(sign),
            source={"kind": "golden", "generator": "make_reviews", "rows": 1000, "seed": SEED},
            dataset=DatasetRef(id="golden-holdout-synthetic", role="holdout"),
        )
        (out / "verify.pub").write_bytes(verify.read_bytes())
    print(f"wrote {out}")
