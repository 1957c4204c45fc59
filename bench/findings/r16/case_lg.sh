#!/bin/bash
# like case.sh, but the poison is the product's own: case_lg.sh KIND SEED ATTACK RATE [poison options ...]
# (the clean dataset st/KIND_SEED must exist: run `case.sh KIND SEED none` first)
set -u
H=$(cd "$(dirname "$0")" && pwd); R=$(cd "$H/../../.." && pwd)
LG="$R/.venv/bin/labelguard"; PY="$R/.venv/bin/python"
KIND=$1; SEED=$2; ATT=$3; RATE=$4; shift 4
B=${KIND}_$SEED; T=${B}_lg_${ATT}_${RATE}${TAG:-}
$LG poison st/$B/data.parquet --attack $ATT --rate $RATE --out d/$T.parquet --truth-out out/$T.truth.json --label-col label --id-col review_id ${POS:+--positive-class $POS} "$@" > out/$T.poison 2>&1 || { echo "poison failed"; cat out/$T.poison; exit 3; }
rm -rf st/$T
$LG ingest --source d/$T.parquet --label-col label --id-col review_id --dest st/$T --holdout-fraction 0 ${POS:+--positive-class $POS} > out/$T.ingest 2>&1 || { echo "ingest failed"; tail -3 out/$T.ingest; exit 3; }
$LG verify st/$T --reference st/${B}_base --holdout st/$B/holdout --json out/$T.json ${VOPT:-} > out/$T.out 2>&1; rc=$?
echo "attacked $T ($(grep -o 'labels flipped' out/$T.poison >/dev/null && sed -E 's/.*: ([0-9]+) labels flipped.*/\1/' out/$T.poison | head -1) flips): verify exit $rc $(grep -E '^verdict' out/$T.out)"
$PY $H/damage.py st/$B/data.parquet d/$T.parquet st/$B/holdout/data.parquet out/$T.truth.json out/$T.json
