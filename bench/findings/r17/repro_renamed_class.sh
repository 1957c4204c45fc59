#!/bin/bash
# break-it r17 F3: a batch whose class is spelled otherwise than in the trusted rows ('negatif' for 'négatif', or the
# same word in Unicode NFD) crashes verify: "unexpected IndexError", exit 2. Control: a batch with an extra class
# ('neutre', 37 rows) is handled as README documents (schema fires, exit 1).  Usage: repro_renamed_class.sh WORKDIR
set -u
R=$(cd "$(dirname "$0")" && pwd); LG=$R/../../../.venv/bin/labelguard; PY=$R/../../../.venv/bin/python
W=${1:?WORKDIR}; mkdir -p "$W/d" && cd "$W" || exit 9
$LG keygen --out keys >/dev/null
export LABELGUARD_SIGNING_KEY=$PWD/keys/signing.key LABELGUARD_VERIFY_KEY=$PWD/keys/verify.pub   # this subshell only
$LG sample --out base3000.csv --rows 3000 --seed 17001 >/dev/null
$PY "$R/gen_enc.py" base3000.csv d          # d/enc_t.csv: trusted rows, labels négatif/positif (UTF-8, NFC)
$PY "$R/gen_nfd.py" base3000.csv d >/dev/null   # d/nfd_b.csv: the batch with 'négatif' in NFD
$PY - <<'PYEOF'
import pandas as pd
b = pd.read_csv("d/enc_b1252.csv", dtype={"id": str}, encoding="cp1252")
b.assign(sentiment=b.sentiment.replace({"négatif": "negatif"})).to_csv("d/noacc_b.csv", index=False)
y = b.copy(); y.loc[y.index[:37], "sentiment"] = "neutre"; y.to_csv("d/neutre_b.csv", index=False)
PYEOF
$LG ingest --source d/enc_t.csv --label-col sentiment --id-col id --dest store/t --positive-class positif | head -1
for v in nfd noacc neutre; do
  $LG ingest --source d/${v}_b.csv --label-col sentiment --id-col id --dest store/$v --holdout-fraction 0 --positive-class positif >/dev/null
  $LG verify store/$v --holdout store/t/holdout 2>&1 | tail -1; echo "verify store/$v: exit ${PIPESTATUS[0]}"
done
