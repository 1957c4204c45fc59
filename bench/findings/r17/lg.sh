#!/bin/bash
# lg.sh CASE ARGS... : run labelguard from the scratch folder (its Prefect server), keys per command,
# print exit code, wall time, stdout/stderr (stderr last 6 lines), append a record to cases.log
S=${S:-/work/scratch/breakit17}
LG=${LG:-/work/wt/breakit17/.venv/bin/labelguard}
name=$1; shift
cd "$S" || exit 9
t0=$(date +%s.%N)
LABELGUARD_SIGNING_KEY=$S/keys/signing.key LABELGUARD_VERIFY_KEY=$S/keys/verify.pub \
  nice -n 10 "$LG" "$@" > "$S/out/$name.out" 2> "$S/out/$name.err"
rc=$?
t1=$(date +%s.%N)
dt=$(python3 -c "print(f'{$t1-$t0:.1f}')")
echo "== $name: exit $rc, ${dt}s :: labelguard $*"
echo "-- stdout (tail):"; tail -n ${OUTN:-6} "$S/out/$name.out"
echo "-- stderr (tail):"; tail -n ${ERRN:-6} "$S/out/$name.err"
echo "$name|$rc|$dt|$*" >> "$S/cases.log"
