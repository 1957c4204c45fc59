"""Break-it round 10: the findings of bench/findings/breakit-r10.md (a folder above datasets read as tampering by the
integrity-only gate, poison --id-col auto, the demo's compromised run that flips nothing, ...). Small data of our own."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.clirun import invoke
from tests.test_fix_findings_r9 import _env, _ingest, _listing


# ---------------------------------------------------------------- finding 1: the folder above signed datasets


def test_verify_manifest_only_of_the_folder_above_datasets_is_a_usage_error(tmp_path, keys, monkeypatch):
    """Finding 1: `verify store --guards manifest` (one level short of store/ds) was exit 1, "missing-manifest: objects
    at store but no manifest.json: the data cannot be vouched for", though every object below is signed in its own
    folder; plain `verify store` already said exit 2. Now the integrity-only gate, `pipeline` (which said "no dataset at
    store/holdout") and `watch` (which served a deployment failing every run) say the same line, exit 2."""
    from labelguard.server import free_port

    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")  # a check after Prefect's would fail here
    store = tmp_path / "store"
    store.mkdir()
    _ingest(store, "ds", keys)
    line = (f"error: {store} holds no Parquet outside 2 folder(s) signed on their own (ds) (fix: point at one of them, e.g. {store}/ds; "
            f"daily partitions are checked with `labelguard drift {store}`)\n")
    for args in (("verify", store, "--guards", "manifest"), ("verify", store), ("pipeline", store),
                 ("watch", store, "--cron", "0 * * * *")):
        res = invoke(*args, "--ledger", "none", env=_env(keys))
        assert (res.exit_code, res.stderr, res.stdout) == (2, line, ""), args


def test_unsigned_parquet_beside_signed_datasets_still_cannot_be_vouched_for(tmp_path, keys):
    """The other side: a Parquet object nobody signed, beside the signed dataset, is data without a manifest (exit 1)."""
    store = tmp_path / "store"
    store.mkdir()
    _ingest(store, "ds", keys)
    pd.DataFrame({"review_id": [1, 2], "label": [0, 1]}).to_parquet(store / "loose.parquet", index=False)
    res = invoke("verify", store, "--guards", "manifest", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    assert "missing-manifest: objects at " in res.stdout


# ---------------------------------------------------------------- finding 4: poison --id-col auto


def test_poison_keys_rows_by_position_as_ingest_does(tmp_path):
    """Finding 4: `poison noid.csv --id-col auto` was refused with "column 'auto' not found … (fix: pass --id-col auto
    to key rows by position …)", naming the flag it had refused; data without ids had no way into the source-poisoning
    drill. Now the truth file's ids are the positions ingest --id-col auto signs as row_key, and the file is otherwise
    byte for byte the same."""
    from labelguard.tasks.sources import load_source

    rng = np.random.default_rng(10)
    y = np.tile([0, 1, 2], 40)
    src, out, truth = tmp_path / "noid.csv", tmp_path / "p.csv", tmp_path / "t.json"
    pd.DataFrame({"f0": rng.normal(size=120) + y, "f1": rng.normal(size=120), "grade": y}).to_csv(src, index=False)
    res = invoke("poison", src, "--attack", "random", "--rate", "0.05", "--out", out, "--id-col", "auto", "--label-col", "grade", "--truth-out", truth)
    assert (res.exit_code, res.stdout, res.stderr) == (0, f"wrote {out}: 6 labels flipped with random; truth: {truth}\n", "")
    clean, _, _ = load_source(str(src), id_col="auto", label_col="grade", timestamp_col=None)
    poisoned, spec, _ = load_source(str(out), id_col="auto", label_col="grade", timestamp_col=None)
    changed = sorted(poisoned.loc[poisoned["grade"] != clean["grade"], spec.id_col].tolist())
    flipped = json.loads(truth.read_text())["flipped"]
    assert sorted(f["id"] for f in flipped) == changed and len(changed) == 6
    before, after = src.read_text().splitlines(), out.read_text().splitlines()
    assert [i for i, (a, b) in enumerate(zip(before, after)) if a != b] == [k + 1 for k in changed]  # the header is line 0


# ---------------------------------------------------------------- finding 5: the demo's compromised run flipping nothing


def test_demo_refuses_a_compromised_run_that_flips_nothing(tmp_path, monkeypatch):
    """Finding 5: `demo --transform honest` and `demo --rate 0` ran for half a minute and reported a "compromised" run
    (`honest 20%`, 0 flips) identical to the clean one, exit 0; `pipeline` refuses the like. Now one line, exit 2,
    before Prefect (PREFECT_API_URL at a closed port: a check after it would print Prefect's message), nothing written."""
    from labelguard.server import free_port

    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    out = tmp_path / "demo"
    res = invoke("demo", "--transform", "honest", "--out", out)
    assert (res.exit_code, res.stdout, res.stderr) == (2, "", "error: --transform honest flips nothing: the demo's compromised run would repeat the clean run "
                                                              "(fix: name a compromised step, e.g. --transform targeted (labelguard list shows them))\n")
    res = invoke("demo", "--rate", "0", "--out", out)
    assert (res.exit_code, res.stdout, res.stderr) == (2, "", "error: --rate 0 flips nothing: the demo's compromised run would repeat the clean run "
                                                              "(fix: pass a rate above 0, e.g. --rate 0.2)\n")
    assert not out.exists()


# ---------------------------------------------------------------- finding 2: a drill with no cell at the summary's rates


def test_drill_summary_says_it_counts_no_cell_when_none_ran_at_five_percent():
    """Finding 2: a drill on 99:1 data (`--rates 0.005,0.01`: a 1 % class holds no more for `targeted`) printed
    "vector transform: 0 of 0 cells with material damage at rates >= 5% caught" and report.md "none: every cell at
    ≥ 5 % with material damage was caught by at least one guard.", an all-clear about cells it never ran. Now it says
    the summary counts none, naming the rates; a drill with a cell at 5 % keeps its table and sentence."""
    from labelguard.tasks import drill
    from labelguard.tasks.drill_report import render_markdown, summarize
    from tests.test_drill import _cell

    plan = drill.plan_drill(attacks=["targeted"], rates=[0.005, 0.01], seeds=1, models=["logreg"], vectors=["transform"])
    cells = [_cell("clean", 0.0, "transform", "inconclusive", 0.0), _cell("targeted", 0.005, "transform", "inconclusive", 0.6),
             _cell("targeted", 0.01, "transform", "fired", 1.1, share_points=-1.1)]
    s = summarize(cells, [], plan)
    line = ("no attacked cell ran at a rate of 5 % or more (rates: 0.005, 0.01), so this summary counts none: "
            "each attack's damage and verdicts are under \"Every attack\"")
    md = render_markdown(s, plan).splitlines()
    at = md.index("## Uncaught cells with material damage")
    assert md[at + 2] == line[0].upper() + line[1:] + "."
    assert not any(x.startswith("none: every cell") for x in md)
    from labelguard.tasks.drill_report import no_summary_cells  # the command prints the same line

    assert (s["summary_cells"], no_summary_cells(s, plan)) == (0, line)
    plan = drill.plan_drill(attacks=["targeted"], rates=[0.01, 0.05], seeds=1, models=["logreg"], vectors=["transform"])
    s = summarize(cells[:2] + [_cell("targeted", 0.05, "transform", "fired", 4.0)], [], plan)
    assert (s["summary_cells"], no_summary_cells(s, plan)) == (1, None)
    assert "none: every cell at ≥ 5 % with material damage was caught by at least one guard." in render_markdown(s, plan).splitlines()


# ---------------------------------------------------------------- finding 6: a timestamp column written two ways


def test_a_timestamp_column_written_two_ways_is_named_as_such(tmp_path, keys, monkeypatch):
    """Finding 6: a `created_at` column of ISO dates joined with `dd/mm/yyyy` ones was refused with a fix to pass
    --timestamp-format '%d/%m/%Y', which then refused the ISO cells. Now the first line says the column mixes two ways,
    naming a row of each; a column written day-first throughout keeps its day-or-month fix."""
    from labelguard.server import free_port

    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")  # refused before Prefect
    rng = np.random.default_rng(6)
    y = np.tile([0, 1], 50)
    frame = pd.DataFrame({"review_id": range(100), "x": rng.normal(size=100) + 3 * y, "label": y,
                          "created_at": [f"2026-01-{i % 28 + 1:02d}" if i % 2 else f"{i % 28 + 1:02d}/01/2026" for i in range(100)]})
    src = tmp_path / "mixed.csv"
    frame.to_csv(src, index=False)
    res = invoke("ingest", "--source", src, "--dest", tmp_path / "ds", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stdout, res.stderr) == (2, "", "error: timestamp column 'created_at' mixes two ways of writing a date: id 1 has '2026-01-02', "
                                                              "id 0 has '01/01/2026' (fix: write every date one way in the source, or --timestamp-col none "
                                                              "to keep 'created_at' as data)\n")
    frame.assign(created_at=[f"{i % 28 + 1:02d}/01/2026" for i in range(100)]).to_csv(src, index=False)
    res = invoke("ingest", "--source", src, "--dest", tmp_path / "ds", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, "error: timestamp column 'created_at' does not parse as ISO 8601: Time data 01/01/2026 is not ISO8601 format "
                                              "(fix: the dates are written day first ('13/01/2026': 13 is no month): pass --timestamp-format '%d/%m/%Y', "
                                              "or --timestamp-col none to keep 'created_at' as data)\n")  # one format offered since break-it r17 F11
    assert _listing(tmp_path) == ["mixed.csv"]


# ---------------------------------------------------------------- finding 3: a rate below 1 % in the run table


def test_the_run_table_shows_a_rate_below_one_percent_as_written():
    """Finding 3: `pipeline --transform targeted --rate 0.005` (24 flips of a 1 % class) printed `targeted 0%` in the run
    table and report.md; now `targeted 0.5%` (20 % stays `20%`)."""
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.report import RunResult, summary_rows

    runs = {"pipeline": RunResult("ds", "targeted", 0.005, 0, True, ColumnSpec()), "other": RunResult("ds", "random", 0.2, 0, True, ColumnSpec())}
    assert [r["transform"] for r in summary_rows(runs)] == ["targeted 0.5%", "random 20%"]


# ---------------------------------------------------------------- finding 9: a day that gained a column


def test_a_day_with_a_new_column_is_told_about_ignore_cols(tmp_path, keys):
    """Finding 9: `ingest --partition` of a day with an extra column was refused with "export the day with the dataset's
    columns … or ingest it into a new --dest", though `--ignore-cols extra` takes it as it is. Now the fix names it, and
    only when nothing is missing (a renamed column is not fixed by leaving the new name out)."""
    import pytest

    from labelguard.errors import BadInput
    from labelguard.tasks.partition_fit import check_partition_fits
    from labelguard.tasks.sources import load_source
    from labelguard.tasks.storage import LocalStore

    lake = _ingest(tmp_path, "lake", keys)  # its signed holdout is what a day must fit (columns id, x, z, label)
    day = pd.read_csv(tmp_path / "lake.csv").assign(id=lambda f: f["id"] + 1000)
    fix = "(fix: export the day with the dataset's columns and labels (features: x, z; text: none; classes: 0, 1), "
    for name, frame, why, hint in (
        ("extra", day.assign(extra=1.5), "column 'extra' not in the dataset", "pass --ignore-cols extra to leave it out, "),
        ("renamed", day.rename(columns={"z": "zz"}), "column 'z' missing; column 'zz' not in the dataset", ""),
    ):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        rows, spec, _ = load_source(str(tmp_path / f"{name}.csv"), id_col="id", label_col="label", timestamp_col=None)
        with pytest.raises(BadInput) as refused:
            check_partition_fits(LocalStore(str(lake)), rows, spec)
        assert str(refused.value) == f"the day does not fit dataset {lake} (signed in holdout): {why} {fix}{hint}or ingest it into a new --dest)"


# ---------------------------------------------------------------- finding 8: the tolerance as given


def test_the_tolerance_reads_as_given(tmp_path, keys):
    """Finding 8: `--tolerate 0.605` (the value a fix proposed) read "every class's flips of 60% or more would be seen",
    and `--tolerate 0.005` "flips of 0% of a class would go unseen": the tolerance was printed with `:.0%`."""
    ds = _ingest(tmp_path, "ds", keys)
    common = ("--guards", "manifest,class_balance", "--ledger", "none")
    res = invoke("verify", ds, *common, "--tolerate", "0.005", env=_env(keys))
    assert (res.exit_code, res.stderr) == (1, "cannot tell: flips of 0.5% of a class would go unseen (smallest detectable flip rate: class 0: 66.5%, class 1: 66.5%) "
                                              "(fix: add trusted reference rows, accept more unseen flips with --tolerate 0.665, or pass --allow-inconclusive)\n")
    res = invoke("verify", ds, *common, "--tolerate", "0.665", env=_env(keys))
    assert (res.exit_code, res.stderr, res.stdout.splitlines()[-1]) == (0, "", "verdict: pass — no guard fired; every class's flips of 66.5% or more would be seen (worst class 66%)")


def test_the_drill_headline_names_a_rate_below_one_percent_as_written():
    """Finding 3, in the drill: the worst case on 99:1 data read "targeted at 0%" for `--rates 0.005`."""
    from labelguard.tasks import drill
    from labelguard.tasks.drill_report import headline, summarize
    from tests.test_drill import _cell

    plan = drill.plan_drill(attacks=["targeted"], rates=[0.005], seeds=1, models=["logreg"], vectors=["transform"])
    s = summarize([_cell("clean", 0.0, "transform", "pass", 0.0), _cell("targeted", 0.005, "transform", "fired", 0.6, share_points=-0.6)], [], plan)
    assert headline(s) == ("Worst case over all attacks: targeted at 0.5% takes logreg from 0.950 to 0.944 holdout accuracy "
                           "(0.6 points; predicted share moved -0.6 points (1)), caught in 1 of 1 cells.")
