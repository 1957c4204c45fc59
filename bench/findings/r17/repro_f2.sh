#!/bin/bash
# break-it r17 F2: one non-numeric cell drops a numeric feature column without a reason (exit 0).
# Usage: repro_f2.sh WORKDIR
set -u
R=$(cd "$(dirname "$0")" && pwd); LG=$R/../../../.venv/bin/labelguard; PY=$R/../../../.venv/bin/python
W=${1:?WORKDIR}; mkdir -p "$W" && cd "$W" || exit 9
$LG keygen --out keys >/dev/null
export LABELGUARD_SIGNING_KEY=$PWD/keys/signing.key LABELGUARD_VERIFY_KEY=$PWD/keys/verify.pub   # this subshell only
$LG sample --out base3000.csv --rows 3000 --seed 17001 >/dev/null
$PY - <<'PYEOF'
import pandas as pd
d = pd.read_csv("base3000.csv", dtype={"id": str}).iloc[1500:].reset_index(drop=True)
d.to_csv("clean.csv", index=False)
x = d.astype({"polarity": object}); x.loc[7, "polarity"] = "abc"; x.to_csv("one_bad_cell.csv", index=False)
y = d.copy(); y.loc[7, "polarity"] = None; y.to_csv("one_empty_cell.csv", index=False)
PYEOF
$LG ingest --source one_empty_cell.csv --label-col sentiment --id-col id --dest store/e --holdout-fraction 0; echo "empty cell: exit $?"
$LG ingest --source one_bad_cell.csv --label-col sentiment --id-col id --dest store/a --holdout-fraction 0 | head -1; echo "'abc' cell: exit ${PIPESTATUS[0]}"
