"""A drift simulation anyone can run: a partition a day of clean reviews, one poisoned day, a drift check after each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date as Date, timedelta
from pathlib import Path
from typing import Any, Callable

import numpy as np

from labelguard.errors import BadInput

VECTORS = ("source", "transform", "at-rest")
START = "2026-03-01"


@dataclass(frozen=True)
class DayPlan:
    """How clean days vary: volume, class mix and a slow benign drift of the feature means."""

    rows: int = 800  # mean rows a day
    volume_sd: float = 0.25  # log-normal day-to-day variation of the volume
    share_sd: float = 0.04  # day-to-day standard deviation of the positive share around 0.5
    drift_per_day: float = 0.03  # benign drift of the feature means, in within-class sd per day
    reference_fraction: float = 0.3  # share of the first day signed as the reference


def make_day(day_index: int, day: str, rng: np.random.Generator, direction: np.ndarray, plan: DayPlan):
    """One clean day of reviews: volume and class mix drawn around their means, features drifted by ``day_index`` days.

    Returns
    -------
    DataFrame with ``review_id`` (``YYYY-MM-DD-NNNNN``), ``label``, ``polarity``, ``intensity``, ``created_at``.
    """
    import pandas as pd

    from labelguard.tasks.synthetic import make_reviews

    rows = max(50, int(round(plan.rows * rng.lognormal(0.0, plan.volume_sd))))
    share = float(np.clip(rng.normal(0.5, plan.share_sd), 0.2, 0.8))
    frame = make_reviews(rows, positive_share=share, seed=rng)
    shift = plan.drift_per_day * day_index * direction
    frame["polarity"] += shift[0]
    frame["intensity"] += shift[1]
    frame["review_id"] = [f"{day}-{i:05d}" for i in range(rows)]
    start = pd.Timestamp(day, tz="UTC")
    frame["created_at"] = (start + pd.to_timedelta(np.sort(rng.uniform(0, 86399, rows)), unit="s")).floor("s")
    return frame


def min_day_rows(plan: DayPlan = DayPlan()) -> int:
    """The fewest mean rows a day may have: two volume standard deviations below it, a day still holds
    the rows drift needs to tell anything (:func:`labelguard.tasks.drift.min_rows` at the default level, two classes)."""
    from labelguard.tasks.drift import ALPHA, HORIZON_DAYS, min_rows, tests_per_day

    return int(np.ceil(min_rows(ALPHA / (tests_per_day(2) * HORIZON_DAYS)) * np.exp(2 * plan.volume_sd)))


def check_args(days: int, poison_day: int | None, attack: str, rate: float, vector: str, rows: int | None = None) -> None:
    """Every simulate argument, checked before anything is written.

    Raises
    ------
    BadInput
        Days below 3, a poison day outside 2..days (day 1 signs the reference), an unknown attack or vector, a bad rate,
        mean rows a day below :func:`min_day_rows`.
    """
    if days < 3:  # the checks that need no import first: a range error answers at once (break-it r14 F15)
        raise BadInput(f"--days must be at least 3, got {days}", "pass e.g. --days 14")
    if poison_day is not None and not 2 <= poison_day <= days:
        raise BadInput(f"--poison-day must be in 2..{days} (day 1 signs the reference), got {poison_day}", f"pass e.g. --poison-day {min(10, days)}, or 0 for none")
    if vector not in VECTORS:
        raise BadInput(f"unknown vector {vector!r}", f"choose one of: {', '.join(VECTORS)}")
    if not 0 <= rate <= 1:
        raise BadInput(f"rate must be within [0, 1], got {rate}", "pass e.g. --rate 0.2")
    if rows is not None and rows < min_day_rows():
        raise BadInput(f"--rows must be at least {min_day_rows()}, got {rows}: smaller days cannot show a 20% flip (drift reads them 'cannot tell')",
                       f"pass e.g. --rows {DayPlan().rows}")
    from labelguard.tasks.attacks import check_rate, get_attack

    get_attack(attack)
    check_rate(rate)


def simulate(
    out: Path,
    *,
    days: int = 14,
    poison_day: int | None = 10,
    attack: str = "targeted",
    rate: float = 0.1,
    vector: str = "source",
    seed: int = 0,
    plan: DayPlan = DayPlan(),
    check: Callable[[str, Path, Path, Path], list[dict]] | None = None,
    plot: bool = True,
) -> dict[str, Any]:
    """Ingest ``days`` daily partitions into a store under ``out``, poison one, and check after each day.

    Parameters
    ----------
    out
        A new or empty directory: keys, ``store/`` (the partitioned dataset), ledger, truth and reports go there.
    poison_day
        1-based day whose labels are flipped (None: none).
    vector
        ``source`` (flipped before ingest), ``transform`` (a compromised ETL transform before
        ingest) or ``at-rest`` (the stored partition edited after it was signed).
    check
        ``check(store_uri, verify_key_path, signing_key_path, ledger_path) -> [day record dicts]``
        run after each day's ingest (the drift flow from the CLI; the signing key signs the day
        records); default the plain :func:`labelguard.tasks.drift.check_partitions`.

    Returns
    -------
    dict
        ``records`` (one per day), ``truth`` (flipped ids), ``paths``.
    """
    from labelguard.tasks import drift
    from labelguard.tasks.ledger import Ledger
    from labelguard.tasks.manifest import ColumnSpec, generate_keypair, load_signing_key, load_verify_key
    from labelguard.tasks.storage import LocalStore

    check_args(days, poison_day, attack, rate, vector)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BadInput(f"{out} is not empty", "choose a new --out directory")
    sign_path, verify_path = generate_keypair(out / "keys")
    key = load_signing_key(sign_path)
    ledger_path = out / "ledger.jsonl"
    book = Ledger(ledger_path)
    root = LocalStore(out / "store")
    spec = ColumnSpec(positive_class=1, domain="reviews")
    rng = np.random.default_rng([seed, 0xD21F7])
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    start = Date.fromisoformat(START)
    if check is None:
        vkey = load_verify_key(verify_path)

        def check(uri: str, _vk: Path, _sk: Path, _lp: Path) -> list[dict]:
            return [r.to_dict() for r in drift.check_partitions(uri, vkey, signing_key=key, ledger=Ledger(ledger_path))]

    truth: list = []
    flip = None
    records: list[dict] = []
    for i in range(1, days + 1):
        day = (start + timedelta(days=i - 1)).isoformat()
        frame = make_day(i - 1, day, rng, direction, plan)
        poisoned = i == poison_day
        if poisoned and vector in ("source", "transform"):
            frame, flip = _poison(frame, spec, attack, rate, seed, vector)
            truth = [str(x) for x in flip.flipped_ids]
        drift.ingest_partition(root, frame, spec, key, day=day, source={"kind": "simulation", "seed": seed},
                               holdout_fraction=plan.reference_fraction if i == 1 else 0.0, seed=seed, ledger=book)
        if poisoned and vector == "at-rest":
            from labelguard.tasks.tamper import tamper

            res = tamper(root.child(drift.part_name(day)).uri, attack=attack, rate=rate, seed=seed, truth_out=out / "truth.json")
            truth = [str(x) for x in res.flipped_ids]
        checked = check(root.uri, verify_path, sign_path, ledger_path)
        for rec in checked:
            rec["poisoned"] = rec["date"] == day and poisoned
            rec["day"] = i
            records.append(rec)
    if vector != "at-rest":
        # the README's truth format (as tamper and poison write it): {attack, rate, seed, flipped: [{id, old, new}]}, plus the vector and day
        doc = flip.truth() if poison_day and flip is not None else {"attack": attack, "rate": rate, "seed": seed, "flipped": []}
        (out / "truth.json").write_text(json.dumps({**doc, "vector": vector, "day": poison_day,
                                                         "date": (start + timedelta(days=poison_day - 1)).isoformat() if poison_day else None}, indent=1))
    for rec in records:
        rec["suspects_exact"] = bool(rec["poisoned"] and truth and sorted(map(str, rec["suspect_ids"])) == sorted(map(str, truth)))
    summary = summarize(records, truth, poison_day)
    doc = {"days": days, "poison_day": poison_day, "attack": attack, "rate": rate, "vector": vector, "seed": seed,
           "plan": plan.__dict__, "summary": summary, "records": [_slim(r) for r in records]}
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    paths["json"].write_text(json.dumps(doc, indent=1, default=str))
    paths["markdown"].write_text(report_markdown(doc))
    if plot:
        paths["plot"] = timeline_plot(doc, out / "timeline.png")
    return {"records": records, "truth": truth, "summary": summary, "paths": paths, "store": root.uri}


def _poison(frame, spec, attack: str, rate: float, seed: int, vector: str):
    if vector == "source":
        from labelguard.tasks.attacks import flip_labels

        res = flip_labels(frame, spec, attack=attack, rate=rate, seed=seed)
        return res.frame, res
    from labelguard.tasks.transforms import run_transform

    res = run_transform(frame, spec, attack, rate=rate, seed=seed)
    return res.frame, res.truth


def _slim(rec: dict) -> dict:
    """A day's record for report.json: the statistics of every guard, suspects counted (listed when few)."""
    ids = rec.get("suspect_ids") or []
    return {
        "day": rec["day"], "date": rec["date"], "rows": rec["rows"], "poisoned": rec["poisoned"], "alarm": rec["alarm"], "fired": rec["fired"],
        "integrity": rec["integrity"], "integrity_detail": rec["integrity_detail"], "guards": rec["guards"],
        "suspects": len(ids), "suspect_ids": list(ids), "suspects_exact": rec["suspects_exact"],
        "clean_days": len(rec["clean_days"]), "level": rec["level"], "warming_up": rec.get("warming_up", False), "status": rec.get("status"),
        "schema_problems": rec.get("schema_problems", []),
    }


def summarize(records: list[dict], truth: list, poison_day: int | None) -> dict[str, Any]:
    clean = [r for r in records if not r["poisoned"]]
    hit = [r for r in records if r["poisoned"]]
    return {
        "clean_days": len(clean),
        "false_alarms": [r["date"] for r in clean if r["alarm"]],
        "poisoned_day": hit[0]["date"] if hit else None,
        "detected": bool(hit and hit[0]["alarm"]),
        "fired_on_poisoned_day": hit[0]["fired"] if hit else [],
        "flipped": len(truth),
        "suspects_exact": bool(hit and hit[0]["suspects_exact"]),
    }


def report_markdown(doc: dict) -> str:
    from labelguard.tasks.drift import DRIFT_GUARDS

    s = doc["summary"]
    lines = [
        f"# Drift simulation: {doc['days']} days, {doc['attack']} {doc['rate']:.0%} via {doc['vector']} on day {doc['poison_day']} (seed {doc['seed']})",
        "",
        f"- clean days: {s['clean_days']}, false alarms: {len(s['false_alarms'])}" + (f" ({', '.join(s['false_alarms'])})" if s["false_alarms"] else ""),
        f"- poisoned day {s['poisoned_day']}: {'ALARM (' + ', '.join(s['fired_on_poisoned_day']) + ')' if s['detected'] else 'no alarm'}; "
        f"{s['flipped']} labels flipped" + ("; suspects named exactly" if s["suspects_exact"] else ""),
        f"- each test fires when its z exceeds the threshold (per-test level {doc['records'][0]['level']:.2g}: 5 % over 30 days of checks, Bonferroni)",
        "",
        "| day | date | rows | poisoned | alarm | manifest | " + " | ".join(DRIFT_GUARDS) + " |",
        "|" + "---|" * (6 + len(DRIFT_GUARDS)),
    ]
    for r in doc["records"]:
        g = r["guards"]
        cells = [("**FIRED** " if g[n]["fired"] else "") + (("warm-up" if r.get("warming_up") else "—") if g[n].get("z") is None else f"z={g[n]['z']:.1f}/{g[n]['threshold']:.1f}")
                 for n in DRIFT_GUARDS]
        lines.append(f"| {r['day']} | {r['date']} | {r['rows']} | {'yes' if r['poisoned'] else ''} | {r.get('status') or ('ALARM' if r['alarm'] else 'no')} | "
                     f"{'**' + r['integrity'] + '**' if r['integrity'] != 'ok' else 'ok'} | " + " | ".join(cells) + " |")
    from labelguard.tasks.drift import warmup_note

    note = warmup_note(doc["records"])
    return "\n".join(lines) + (f"\n{note}.\n" if note else "\n")


def timeline_plot(doc: dict, path: Path) -> Path:
    """Every statistical guard's largest z per day against its threshold; the poisoned day and alarms marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from labelguard.tasks.drift import DRIFT_GUARDS, MIN_DAYS

    recs = doc["records"]
    x = [r["day"] for r in recs]
    names = list(DRIFT_GUARDS)
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(9, 2.1 * (len(names) + 1)), sharex=True,
                             gridspec_kw={"height_ratios": [1] * len(names) + [0.45]})
    for ax, name in zip(axes, names):
        z = [r["guards"][name].get("z") for r in recs]
        thr = [r["guards"][name].get("threshold") for r in recs]
        ax.plot(x, [np.nan if v is None else max(v, 0.0) for v in z], "o-", color="tab:blue", label=f"{name}: largest z")
        ax.step(x, [np.nan if v is None else v for v in thr], where="mid", color="tab:red", linestyle="--", label="threshold")
        fired = [(d, v) for d, v, r in zip(x, z, recs) if r["guards"][name]["fired"]]
        if fired:
            ax.plot(*zip(*fired), "o", color="tab:red", markersize=10, markerfacecolor="none", markeredgewidth=2, label="fired")
        waiting = [d for d, v in zip(x, z) if v is None]
        if waiting:
            ax.axvspan(min(waiting) - 0.4, max(waiting) + 0.4, color="grey", alpha=0.1)
            ax.text(min(waiting) - 0.3, 0.5, f"warm-up: needs {MIN_DAYS} clean days", transform=ax.get_xaxis_transform(), fontsize=8, color="grey")
        alone = [d for d, r in zip(x, recs) if "in the signed reference" in (r["guards"][name].get("detail") or "")]
        if alone:  # noise_rate before its clean-day null exists: Fisher's exact test against the reference
            ax.axvspan(min(alone) - 0.4, max(alone) + 0.4, color="tab:orange", alpha=0.08)
            ax.text(min(alone) - 0.3, 0.5, "vs the signed reference alone", transform=ax.get_xaxis_transform(), fontsize=8, color="tab:orange")
        chosen = [d for d, r in zip(x, recs) if "the test chosen while" in (r["guards"][name].get("detail") or "")]
        for d in chosen:  # noise_rate's bridge: the reference test ran, as it would fire on a smaller flip than the clean days' t
            ax.axvspan(d - 0.4, d + 0.4, color="tab:orange", alpha=0.04)
        if chosen:
            ax.text(max(chosen) + 0.35, 0.2, "reference test chosen", transform=ax.get_xaxis_transform(), fontsize=8, color="tab:orange", ha="right")
        ax.set_yscale("symlog", linthresh=5)
        # ticks at 1, 2, 5 of each decade: the default put none between 10^0 and 10^1, so a z of 6.1 against a
        # threshold of 3.4 could not be read off the noise_rate panel (break-it r13 F14)
        from matplotlib.ticker import ScalarFormatter, SymmetricalLogLocator

        ax.yaxis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=5, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.set_ylabel("z")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax = axes[-1]
    ax.scatter(x, [0] * len(x), c=["tab:red" if r["integrity"] != "ok" else "tab:green" for r in recs], s=60)
    ax.set_yticks([0], ["manifest"])
    ax.set_ylim(-1, 1)
    ax.set_xlabel("day")
    for a in axes:
        if doc["poison_day"]:
            a.axvline(doc["poison_day"], color="grey", linestyle=":", linewidth=1.5)
        for r in recs:
            if r["alarm"]:
                a.axvspan(r["day"] - 0.4, r["day"] + 0.4, color="tab:red", alpha=0.12)
    axes[-1].set_xticks(x)
    axes[0].set_title(f"drift checks, {doc['attack']} {doc['rate']:.0%} via {doc['vector']} on day {doc['poison_day']} (dotted; alarm days shaded)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
