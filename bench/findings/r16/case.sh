#!/bin/bash
# python-free driver: case.sh KIND SEED ATTACK [k=v ...]   (run from a scratch folder; needs LABELGUARD_* keys exported)
# builds d/KIND_SEED.csv, ingests it clean (20 % trusted holdout), baselines the holdout, verifies the clean data,
# poisons the signed training rows at the source with attack16.py, ingests the batch, verifies it against the clean
# holdout + baseline, and measures the damage with damage.py.
set -u
H=$(cd "$(dirname "$0")" && pwd); R=$(cd "$H/../../.." && pwd)
LG="$R/.venv/bin/labelguard"; PY="$R/.venv/bin/python"
KIND=$1; SEED=$2; ATT=$3; shift 3
N=${N:-5000}
B=${KIND}_$SEED; mkdir -p d st out
if [ ! -d st/$B ]; then
  $PY $H/gen.py $KIND $SEED d/$B.csv $N
  $LG ingest --source d/$B.csv --label-col label --id-col review_id --dest st/$B ${POS:+--positive-class $POS} > out/$B.ingest 2>&1 || { echo "ingest failed"; cat out/$B.ingest; exit 3; }
  $LG baseline st/$B/holdout --out st/${B}_base > out/$B.base 2>&1 || { echo "baseline failed"; cat out/$B.base; exit 3; }
  $LG verify st/$B --reference st/${B}_base --holdout st/$B/holdout --json out/$B.clean.json > out/$B.clean.out 2>&1; echo "clean $B: verify exit $? $(grep -E '^verdict' out/$B.clean.out)"
fi
[ "$ATT" = none ] && exit 0
T=${B}_${ATT}${TAG:-}
$PY $H/attack16.py $ATT st/$B/data.parquet d/$T.parquet out/$T.truth.json "$@" || exit 3
rm -rf st/$T
$LG ingest --source d/$T.parquet --label-col label --id-col review_id --dest st/$T --holdout-fraction 0 ${POS:+--positive-class $POS} > out/$T.ingest 2>&1 || { echo "ingest failed"; tail -3 out/$T.ingest; exit 3; }
$LG verify st/$T --reference st/${B}_base --holdout st/$B/holdout --json out/$T.json ${VOPT:-} > out/$T.out 2>&1; rc=$?
echo "attacked $T: verify exit $rc $(grep -E '^verdict' out/$T.out)"
$PY $H/damage.py st/$B/data.parquet d/$T.parquet st/$B/holdout/data.parquet out/$T.truth.json out/$T.json
