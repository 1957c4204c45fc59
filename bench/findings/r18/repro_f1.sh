#!/bin/bash
# break-it r18 F1 through the CLI: clean zero-inflated counts (gen.py zicounts, seed 18105), a second clean batch
# verified against the first. Before 92604c5: knn_consistency fired, exit 1. After: exit 0.
#   bench/findings/r18/repro_f1.sh DIR          (about 2 minutes; Prefect starts for each ingest)
set -u
H=$(cd "$(dirname "$0")" && pwd); R=$(cd "$H/../../.." && pwd)
LG="nice -n 10 env -u LABELGUARD_SIGNING_KEY -u LABELGUARD_VERIFY_KEY OMP_NUM_THREADS=1 $R/.venv/bin/labelguard"
D=${1:?DIR}; mkdir -p "$D"; cd "$D" || exit 2
S=18105
$R/.venv/bin/python $H/gen.py zicounts $S a.csv --part a
$R/.venv/bin/python $H/gen.py zicounts $S b.csv --part b
[ -d keys ] || $LG keygen --out keys >/dev/null
K="--signing-key keys/signing.key"; V="--verify-key keys/verify.pub"
COLS="--label-col label --id-col review_id --timestamp-col none"
$LG ingest --source a.csv --dest st/a $COLS --seed $S $K >/dev/null || exit 3
$LG baseline st/a --out st/a_base $K $V >/dev/null || exit 3
$LG ingest --source b.csv --dest st/b $COLS --holdout-fraction 0 $K >/dev/null || exit 3
$LG verify st/b --reference st/a_base --holdout st/a/holdout $V > verify_b.out 2>&1; rc=$?
grep -E "knn_consistency|^verdict" verify_b.out | cut -c1-220
echo "verify st/b exit $rc"
