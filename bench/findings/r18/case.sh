#!/bin/bash
# One r18 case through the CLI:  case.sh KIND SEED DIR
# gen.py parts a and b (and b with 10 % of rows relabelled to another class); ingest a with its default 20 % trusted
# holdout; verify a; baseline a; ingest b and the flipped b with --holdout-fraction 0; verify each against a
# (--reference a_base --holdout a/holdout). Prints each verify's fired guards, verdict line and exit code.
set -u
H=$(cd "$(dirname "$0")" && pwd); R=$(cd "$H/../../.." && pwd)
LG="nice -n 10 env -u LABELGUARD_SIGNING_KEY -u LABELGUARD_VERIFY_KEY OMP_NUM_THREADS=1 $R/.venv/bin/labelguard"
KIND=$1; S=$2; D=$3; mkdir -p "$D"; cd "$D" || exit 2
TXT=""; [ "$KIND" = text ] && TXT="--text-cols text"
$R/.venv/bin/python $H/gen.py $KIND $S a.csv --part a
$R/.venv/bin/python $H/gen.py $KIND $S b.csv --part b
$R/.venv/bin/python $H/gen.py $KIND $S bf.csv --part b --flip 0.1
[ -d keys ] || $LG keygen --out keys >/dev/null
K="--signing-key keys/signing.key"; V="--verify-key keys/verify.pub"
COLS="--label-col label --id-col review_id --timestamp-col none $TXT"
$LG ingest --source a.csv --dest st/a $COLS --seed $S $K >/dev/null || exit 3
$LG baseline st/a --out st/a_base $K $V >/dev/null || exit 3
for p in b bf; do $LG ingest --source $p.csv --dest st/$p $COLS --holdout-fraction 0 $K >/dev/null || exit 3; done
show() { grep -E "│ fired|^verdict" "$1" | cut -c1-200; }
$LG verify st/a $V > verify_a.out 2>&1; echo "verify st/a exit $?"; show verify_a.out
for p in b bf; do
  $LG verify st/$p --reference st/a_base --holdout st/a/holdout $V > verify_$p.out 2>&1; echo "verify st/$p exit $?"; show verify_$p.out
done
