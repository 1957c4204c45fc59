"""Was the switch to cleanlab's set right? Every held-out grid cell where the suite chose cleanlab's set, re-scored with the posterior's own set.

Run: .venv/bin/python bench/suspect_set_switch.py > bench/results/suspect_set_switch.txt
(reads the regime grid's CSVs; one tuple per switched cell: regime, seed, attack, rate, chosen, F1 of the chosen set, F1 of the posterior's own set)
"""
import sys, glob; sys.path.insert(0,'bench')
import numpy as np, pandas as pd
from concurrent.futures import ProcessPoolExecutor
from regimes import REGIMES, make_regime, _f1
from labelguard.tasks import attacks
from labelguard.tasks.posterior import flip_posterior, expected_f1_set
def one(t):
    reg,seed,att,rate=t
    cand,hold,spec=make_regime(REGIMES[reg],int(seed))
    res=attacks.flip_labels(cand,spec,attack=att,rate=rate,seed=int(seed))
    fr=res.frame; truth=fr[spec.id_col].isin(res.flipped_ids).to_numpy()
    p=flip_posterior(fr,spec,hold)
    own=expected_f1_set(p.posterior)
    return reg,seed,att,rate,p.chosen,_f1(p.suspect,truth),_f1(own,truth)
if __name__=="__main__":
    rows=[]
    for f in ["bench/results/regimes_p3_seeds.csv","bench/results/regimes_first10.csv","bench/results/regimes_new7.csv","bench/results/regimes_p2_base.csv","bench/results/regimes_big.csv","bench/results/regimes_p3_attack.csv"]:
        d=pd.read_csv(f); d=d[d.suite_set=="cleanlab"]
        rows+= [(r.regime,r.seed,r.attack,r.rate) for r in d.itertuples()]
    rows=sorted(set(rows)); print(len(rows),flush=True)
    with ProcessPoolExecutor(2) as ex:
        for r in ex.map(one,rows): print(r,flush=True)
