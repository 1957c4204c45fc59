"""README claims added since the claims table's first walk (819a27b) that no test held (issue 13 item 4; the claim ->
test rows are in bench/RESULTS.md, "Added since 819a27b"): the model gate's row counts the README quotes, where
PREFECT_API_URL is read from, `pipeline`'s three answers to a verdict of `inconclusive`, the label words that stay
classes, Hudi's own folder, the plot's styles for 72 classes and its legend, no fired event for a run that cannot tell,
and no class set apart by a `--guards` list without `schema`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.clirun import invoke

ROOT = Path(__file__).resolve().parent.parent
README = " ".join((ROOT / "README.md").read_text().split())  # one line: the figures are read across line breaks


def _readme_int(pattern: str) -> int:
    found = re.findall(pattern, README)
    assert len(found) == 1, (pattern, found)
    return int(found[0])


def test_the_gate_row_counts_the_readme_quotes_are_the_codes():
    """README (Verdicts and power): with no disagreement the accuracy bound is z²/(n + z²), "so a holdout under 133
    rows vouches only where the candidate's model is right on more rows"; a small class with no row moving "needs
    at least 11 holdout rows to be vouched for, and 11 rows lost to fire at all with two classes"; at --recall-gap
    0.1 "25 rows"; the clean 99:1 class: "14 rows, bound 16.2 %". Each figure is read from the README and
    recomputed from the gate's own functions: the smallest count that vouches / fires, not a copy of the text."""
    from labelguard.tasks.guards import class_recall_damage
    from labelguard.tasks.power import VOUCH_ALPHA, paired_difference_bounds

    def smallest(ok) -> int:
        return next(n for n in range(1, 10_000) if ok(n))

    accuracy_rows = smallest(lambda n: paired_difference_bounds(0, 0, n, VOUCH_ALPHA)[1] < 0.02)
    assert _readme_int(r"so a holdout under (\d+) rows vouches only where") == accuracy_rows == 133

    def vouched(rows: int, gap: float) -> bool:  # a small class beside 1,000 rows of another, nothing moved
        judged = class_recall_damage([(0, 0, 1000), (0, 0, rows)], [0, 1], gap)
        assert list(judged["per_class"]) == ["1"]  # the small class is the one judged
        return judged["blind"] == []

    def fires(lost: int) -> bool:  # two classes, the small one losing `lost` of its 20 rows, winning none
        return class_recall_damage([(0, 0, 1000), (lost, 0, 20)], [0, 1])["fired"] == ["1"]

    assert _readme_int(r"a class needs at least (\d+) holdout rows to be vouched for") == smallest(lambda n: vouched(n, 0.2)) == 11
    assert _readme_int(r"and (\d+) rows lost to fire at all with two classes") == smallest(fires) == 11
    assert _readme_int(r"z²\(1 − gap\)/gap: (\d+) rows at 0\.1\)") == smallest(lambda n: vouched(n, 0.1)) == 25
    bound = class_recall_damage([(0, 0, 1000), (0, 0, 14)], [0, 1])["per_class"]["1"]["drop_upper"]
    assert "clean: 14 rows, bound 16.2 %" in README and f"{bound:.1%}" == "16.2%"


@pytest.mark.parametrize("name, text, where", [
    ("prefect.toml", '[api]\nurl = "{url}"\n', "prefect.toml"),
    ("pyproject.toml", '[project]\nname = "x"\n\n[tool.prefect.api]\nurl = "{url}"\n', "pyproject.toml"),
])
def test_a_prefect_api_url_in_prefect_toml_or_pyproject_is_the_one_checked(tmp_path, monkeypatch, name, text, where):
    """README (Configuration, Prefect): "else PREFECT_API_URL where Prefect itself reads it — a .env file in this
    folder, prefect.toml, pyproject.toml, the active profile … — checked the same way (the line names where it is
    set)". The .env file and the profile have their tests (test_fix_findings_r13.py); these are the other two."""
    from labelguard.server import free_port

    monkeypatch.chdir(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    (tmp_path / name).write_text(text.format(url=url))
    env = {"PREFECT_API_URL": None, "LABELGUARD_HOME": None, "PREFECT_PROFILES_PATH": str(tmp_path / "no-profiles.toml")}
    res = invoke("alert", "--webhook", "https://hooks.example.com/x", env=env)
    at = tmp_path.resolve() / where
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (f"error: the Prefect API at {url} (PREFECT_API_URL in {at}) does not answer (fix: start it (`labelguard server` "
                          f"or `prefect server start`), or set PREFECT_API_URL in {at} to a running one)\n")


@pytest.mark.flow
def test_pipeline_on_an_inconclusive_verdict_stops_or_trains_with_the_exit_code_the_readme_gives(tmp_path, own_key_env, prefect_harness):
    """README (Verdicts and power): "`pipeline` reaches the same verdict, prints it, and on `inconclusive` stops
    before training (exit 1) unless `--observe` (trains, exit 1) or `--allow-inconclusive` (trains, exit 0)".
    150 rows (a 30-row holdout): no guard fires and none can vouch. The flow's three outcomes are tested in
    test_flows.py; this is the command's edge: the exit codes, the verdict line, and whether a model was trained."""
    ds = tmp_path / "ds"
    made = invoke("ingest", "--dest", ds, "--rows", 150, "--seed", 4, env=own_key_env)
    assert made.exit_code == 0, made.output

    stopped = invoke("pipeline", ds, env=own_key_env)
    assert stopped.exit_code == 1, stopped.output
    assert stopped.stderr.count("\n") == 1 and stopped.stderr.startswith("cannot tell: the guards cannot vouch for the data, training stopped (")
    assert stopped.stderr.endswith("or --allow-inconclusive to train anyway (--observe to measure the damage))\n")
    assert "impact on the model" not in stopped.stdout  # no metrics table: nothing was trained

    observed = invoke("pipeline", ds, "--observe", env=own_key_env)
    assert observed.exit_code == 1, observed.output
    verdict = next(line for line in observed.stdout.splitlines() if line.startswith("verdict: "))
    assert verdict.startswith("verdict: inconclusive — model gate cannot rule out an accuracy drop of 2% (95 % upper bound ")
    assert "impact on the model (trusted holdout" in observed.stdout  # the metrics table: trained anyway
    last = observed.stderr.strip().splitlines()[-1]
    assert last == f"cannot tell: {verdict[len('verdict: inconclusive — '):]} (observe mode: trained anyway; fix: pass --allow-inconclusive to exit 0)"

    allowed = invoke("pipeline", ds, "--allow-inconclusive", env=own_key_env)
    assert allowed.exit_code == 0, allowed.output
    assert next(line for line in allowed.stdout.splitlines() if line.startswith("verdict: ")) == verdict
    assert "impact on the model (trusted holdout" in allowed.stdout and "cannot tell:" not in allowed.stderr


def test_labels_na_and_none_stay_classes_while_missing_value_spellings_are_refused(tmp_path, keys):
    """README (ingest): "labels written as a missing value (`N/A`, `#N/A`, `NULL`, `NaN`: unlabelled rows, not a
    class; `NA` and `None` stay classes)". `NA` has its test (test_fix_findings_r11.py); `None` and the refusal of
    `NULL` and `NaN` had none. pandas reads all four as missing by default: labelguard must not."""
    import pandas as pd

    from labelguard.tasks.sources import load_source

    kept = tmp_path / "kept.csv"
    pd.DataFrame({"review_id": range(60), "x": [float(i) for i in range(60)], "label": ["None", "Some", "NA"] * 20}).to_csv(kept, index=False)
    _, spec, _ = load_source(str(kept), timestamp_col=None)
    assert sorted(spec.classes) == ["NA", "None", "Some"]
    for word in ("NULL", "NaN"):
        src = tmp_path / f"{word}.csv"
        src.write_text("review_id,x,label\n" + "".join(f"{i},{i}.5,{('a', 'b', word)[i % 3] if i < 59 else 'a'}\n" for i in range(60)))
        res = invoke("ingest", "--source", src, "--dest", tmp_path / f"store-{word}", "--ledger", "none",
                     env={"LABELGUARD_SIGNING_KEY": str(keys[0]), "LABELGUARD_VERIFY_KEY": str(keys[1])})
        assert (res.exit_code, res.stdout) == (2, "")
        assert res.stderr == (f"error: label column 'label' has 19 cell(s) written as a missing value ('{word}'), first at id 2: "
                              "they would be a class of their own (fix: label every row, or drop the unlabelled rows before ingest)\n")
        assert not (tmp_path / f"store-{word}").exists()


def test_a_hudi_tables_own_folder_is_neither_sealed_nor_checked(tmp_path, keys):
    """README (Data already in a lake): "A table format's log is not data: a Delta table's `_delta_log/` … and Hudi's
    `.hoodie/` are neither sealed nor checked, so new commits and checkpoints after `seal` do not fail `verify`".
    Delta has its test (test_fix_lead_s27.py); Hudi's metadata table keeps Parquet files under `.hoodie/metadata/`,
    which the rule for Parquet under a `.`-prefixed name would otherwise refuse."""
    from labelguard.tasks.dataset import to_parquet_bytes
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.synthetic import make_reviews

    store = LocalStore(tmp_path / "t")
    store.put("2026/01/a1b2-0_0-1-1_20260101.parquet", to_parquet_bytes(make_reviews(200, seed=9)))
    store.put(".hoodie/20260101.commit", b'{"partitionToWriteStats": {}}')
    store.put(".hoodie/metadata/files/files-0000_0-1-1_00000000000000.hfile", b"HFILE")
    store.put(".hoodie/metadata/.hoodie/00000000000000.deltacommit", b"{}")
    store.put(".hoodie/metadata/record_index/record-index-0000_0-1-1.parquet", to_parquet_bytes(make_reviews(20, seed=1)))
    res = invoke("seal", tmp_path / "t", "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 0, res.output
    assert "1 object(s), 200 rows" in res.stdout
    args = ("verify", tmp_path / "t", "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none")
    store.put(".hoodie/20260102.commit", b"{}")  # the table's next commit and a new metadata file: not data
    store.put(".hoodie/metadata/record_index/record-index-0001_0-2-2.parquet", to_parquet_bytes(make_reviews(30, seed=2)))
    assert (invoke(*args).exit_code, invoke(*args).stderr) == (0, "")
    store.put("2026/01/c3d4-0_0-2-2_20260102.parquet", to_parquet_bytes(make_reviews(220, seed=9).iloc[200:]))  # data beside it: caught
    assert (invoke(*args).exit_code, invoke(*args).stderr) == (1, "guard fired: manifest\n")


def test_every_class_up_to_72_is_drawn_its_own_way_and_the_legend_moves_below_beyond_ten(tmp_path, monkeypatch):
    """README (Pictures): "every class has its own colour and marker pair (eight colours, nine marker shapes: no two
    of the first 72 classes are drawn alike, and up to nine classes each have their own shape); beyond ten classes the
    legend sits below the plot". 40 classes have their test (test_fix_findings_r13.py); this draws 72, and 10 and 11."""
    import numpy as np

    from tests.test_fix_findings_r8 import boundaries_figure, clustered_classes, legend_extents

    def drawn(n: int):
        fig, real_close = boundaries_figure(*clustered_classes([f"c{k:02d}" for k in range(n)], seed=5, spread=4), tmp_path, monkeypatch)
        styles = [(tuple(np.round(c.get_facecolor()[0][:3], 3)), c.get_paths()[0].vertices.round(3).tobytes())
                  for c in fig.axes[0].collections if c.get_label().startswith("labelled ")]
        legend, axes_box, _, _ = legend_extents(fig)
        real_close(fig)
        assert len(styles) == n
        return styles, bool(legend.y1 <= axes_box.y0)  # the legend lies wholly below the plot

    many, below = drawn(72)
    assert len(set(many)) == 72 and below
    assert len({shape for _, shape in many[:9]}) == 9  # the first nine classes: nine shapes
    assert len({colour for colour, _ in many}) == 8 and len({shape for _, shape in many}) == 9
    assert drawn(10)[1] is False and drawn(11)[1] is True


@pytest.mark.flow
def test_a_served_verify_run_that_cannot_tell_fails_without_the_fired_event(tmp_path, keys, prefect_harness, monkeypatch):
    """README (Scheduling): a served `watch` of a plain dataset "emits the same `labelguard.guard.fired` event when a
    run's guards fire (resource `labelguard.dataset.URI` …). A run that cannot tell (`inconclusive`) fails without
    the event: nothing fired." The watch's flow is `verify_flow`; every event it emits is recorded on its way to
    Prefect's real `emit_event` (called through, not replaced)."""
    import prefect.events

    from labelguard.errors import GuardFired
    from labelguard.flows.ingest import ingest_flow
    from labelguard.flows.verify import verify_flow
    from labelguard.tasks.tamper import tamper

    sent = []
    real = prefect.events.emit_event

    def recorded(*args, **kwargs):
        sent.append((kwargs.get("event"), kwargs.get("resource", {}).get("prefect.resource.id")))
        return real(*args, **kwargs)

    monkeypatch.setattr(prefect.events, "emit_event", recorded)
    ds = str(tmp_path / "ds")
    ingest_flow(source="synthetic", dest=ds, signing_key=keys[0], rows=300, seed=3)  # a 60-row holdout: cannot tell
    sent.clear()
    with pytest.raises(GuardFired) as unsure:
        verify_flow(ds, keys[1])
    assert str(unsure.value).startswith("cannot tell: ") and unsure.value.failed == []
    assert [e for e in sent if e[0] == "labelguard.guard.fired"] == []
    tamper(ds, attack="random", rate=0.05, seed=0, truth_out=tmp_path / "t.json")
    with pytest.raises(GuardFired) as fired:
        verify_flow(ds, keys[1])
    assert "manifest" in fired.value.failed
    assert [e for e in sent if e[0] == "labelguard.guard.fired"] == [("labelguard.guard.fired", f"labelguard.dataset.{ds}")]


def test_a_guards_list_without_schema_sets_no_class_apart(tmp_path, keys):
    """README (A class the reference never had): the rows of a class the reference never had are set apart before the
    other guards run … "A `--guards` list without `schema` sets nothing apart." The batch of test_fix_left_r7a.py
    (37 'neutral' rows beside a 'neg'/'pos' reference) checked by class_balance alone: 'neutral' is judged as a class
    like the others (8.5 % vs 0.0 %) and nothing is listed apart."""
    import json

    import pandas as pd

    from tests.test_fix_left_r7a import _env, _rows, _write

    _write(tmp_path / "reference", _rows(400, "r", 1), keys, ("neg", "pos"), role="holdout")
    batch = pd.concat([_rows(400, "b", 2), _rows(37, "n", 3, classes=("neutral",))], ignore_index=True)
    batch.loc[batch.index[batch["label"] == "pos"][:20], "label"] = "neg"
    _write(tmp_path / "batch", batch, keys, ("neg", "neutral", "pos"))
    res = invoke("verify", tmp_path / "batch", "--reference", tmp_path / "reference", "--holdout", tmp_path / "reference",
                 "--json", tmp_path / "g.json", "--guards", "class_balance", "--no-progress", env=_env(keys))
    doc = json.loads((tmp_path / "g.json").read_text())
    assert (res.exit_code, res.stderr) == (1, "guard fired: class_balance\n")
    assert (doc["unknown_classes"], doc["unknown_class_ids"]) == ({}, [])
    [balance] = doc["guards"]
    assert balance["name"] == "class_balance" and sorted(balance["metrics"]["shares"]) == ["neg", "neutral", "pos"]
    assert "class neutral: 8.5% vs 0.0% (p=1.7e-11)" in balance["detail"]


def test_a_verify_json_approves_exactly_the_relabellings_it_names(pg_url, keys, tmp_path, monkeypatch):
    """README (PostgreSQL): `--approve-relabel FILE` takes "a truth file, or a `verify --json` with its `relabels`",
    approving each row's change from `old` to `new` only. The truth file has its test (test_fix_findings_r14.py); here
    the approval is the JSON `verify` wrote of the table itself: taken as written it approves both changes (exit 0,
    signed); with one row's `new` edited it approves that row no more (exit 1, nothing written). The JSON's ids were
    never read as approved (every relabelled id "not approved"): the README's claim was false until this fix."""
    import json

    import psycopg

    from tests.test_fix_findings_r14 import relabelled_t3

    url = relabelled_t3(pg_url, keys, tmp_path, monkeypatch)
    checked = invoke("verify", url, "--json", tmp_path / "v.json")
    doc = json.loads((tmp_path / "v.json").read_text())
    assert checked.exit_code == 1 and doc["relabels"] == [{"id": 3, "old": "a", "new": "c"}, {"id": 4, "old": "b", "new": "a"}]

    taken = invoke("ingest", "--source", url, "--dest", tmp_path / "ds", "--approve-relabel", tmp_path / "v.json", "--positive-class", "a")
    assert taken.exit_code == 0, taken.output
    assert (tmp_path / "ds" / "manifest.json").exists()

    doc["relabels"][0]["new"] = "b"  # an approval of id 3: a -> b, while the table says a -> c
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    refused = invoke("ingest", "--source", url, "--dest", tmp_path / "refused", "--approve-relabel", tmp_path / "edited.json", "--positive-class", "a")
    assert refused.exit_code == 1, refused.stderr
    assert refused.stderr.startswith("guard fired: table_fingerprint fired, ingest refused (2 label(s) changed, 0 row(s) otherwise edited, ")
    assert refused.stderr.endswith("; not approved: 3 (1 relabelled otherwise than approved, e.g. id 3: approved 'a' → 'b', found 'a' → 'c')) "
                                   "(fix: inspect with `labelguard verify URL`; pass --approve-relabel FILE listing relabelled ids you approve, "
                                   "or take a new snapshot after review)\n")
    assert not (tmp_path / "refused").exists()
