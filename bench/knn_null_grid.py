"""Clean false alarms of knn_consistency (the guard, reference = the trusted holdout) over the grid's regimes, 50 fresh seeds."""
import sys, json, time
import os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import regimes
from labelguard.tasks import guards
from labelguard.tasks.guards import GuardContext
seeds = range(int(sys.argv[1]), int(sys.argv[2]))
names = sys.argv[3].split(";") if len(sys.argv) > 3 else list(regimes.REGIMES)
for part in names:
    name = next(n for n in regimes.REGIMES if part in n)
    t0 = time.time(); fired, ps = 0, []
    for s in seeds:
        cand, hold, spec = regimes.make_regime(regimes.REGIMES[name], s)
        r = guards.knn_consistency_guard(GuardContext(frame=cand, spec=spec, reference=hold))
        fired += r.verdict == "fired"; ps.append(r.metrics.get("p_value"))
    low = sum(p is not None and p < 0.01 for p in ps)
    print(json.dumps({"regime": name, "seeds": len(ps), "fired": fired, "p_below_0.01": low, "s": round(time.time() - t0)}), flush=True)
