"""class_conditional on clean data of one kind, many seeds: the dataset's 80 % vs its own 20 % holdout (as `verify A`).

    cc_null.py KIND SEED0 SEEDS
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen import gen  # noqa: E402

from labelguard.tasks import sources  # noqa: E402
from labelguard.tasks.guards import GuardContext, class_conditional_guard  # noqa: E402

kind, s0, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tmp = Path(f"/tmp/cc_null_{kind}.csv")
fired, ps = 0, []
for seed in range(s0, s0 + n):
    gen(kind, seed, "a", None).to_csv(tmp, index=False)
    frame, spec, _ = sources.load_source(str(tmp), id_col="review_id", label_col="label", timestamp_col=None)
    train, ho = sources.split_holdout(frame, spec, 0.2, seed)
    r = class_conditional_guard(GuardContext(frame=train, spec=spec, reference=ho))
    fired += r.verdict == "fired"
    if r.verdict == "fired":
        print(seed, r.detail[:200], flush=True)
print(f"{kind}: class_conditional fired {fired}/{n}")
