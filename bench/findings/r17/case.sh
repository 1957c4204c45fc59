#!/bin/bash
# case.sh V EXT [extra ingest flags...]: trusted file -> dataset with a 20 % holdout; clean batch and my 10 %-flipped
# batch -> datasets without a holdout; verify each batch against the trusted holdout. Expect: ingests 0, clean 0, flipped 1.
V=$1; EXT=$2; shift 2
L=/work/scratch/breakit17/lg
$L ${V}_it ingest --source d/${V}_t.$EXT --label-col sentiment --id-col id --dest store/${V}_t "$@"
$L ${V}_ib ingest --source d/${V}_b.$EXT --label-col sentiment --id-col id --dest store/${V}_b --holdout-fraction 0 "$@"
$L ${V}_if ingest --source d/${V}_f.$EXT --label-col sentiment --id-col id --dest store/${V}_f --holdout-fraction 0 "$@"
ERRN=2 OUTN=1 $L ${V}_vb verify store/${V}_b --holdout store/${V}_t/holdout --json out/${V}_vb.json
ERRN=2 OUTN=1 $L ${V}_vf verify store/${V}_f --holdout store/${V}_t/holdout --json out/${V}_vf.json
