"""Left from break-it round 7 (r7left-b): money and Indian-grouped numbers, a wrong `sep=` line, `--json -`,
`LABELGUARD_LEDGER=none`, a closed stdout, and the id column the data seems to have. Small data of our own."""

from __future__ import annotations

import numpy as np
import pytest

from tests.clirun import invoke


def _env(keys, **extra):
    return {"LABELGUARD_SIGNING_KEY": str(keys[0]), "LABELGUARD_VERIFY_KEY": str(keys[1]), **extra}


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _column(cells, sep=","):
    """A file whose column ``x`` holds ``cells`` (quoted in a comma file), read as ingest reads it."""
    from labelguard.tasks.readers import read_bytes

    quote = (lambda c: f'"{c}"') if sep == "," else (lambda c: c)
    text = "\n".join([sep.join(["id", "x", "label"])] + [sep.join([str(i), quote(c), str(i % 2)]) for i, c in enumerate(cells)]) + "\n"
    frame, _ = read_bytes(text.encode(), "export.csv", id_col="id")
    return frame["x"].tolist(), str(frame["x"].dtype), frame.attrs.get("reading", {}).get("unparsed", {}).get("x")


# ---------------------------------------------------------------- 1: money and Indian (lakh) grouping


@pytest.mark.parametrize(("cells", "numbers", "dtype"), [
    (["$1,234.50", "$12.00", "-$3.50"], [1234.5, 12.0, -3.5], "float64"),
    (["€12,00", "€1.234,50", "€7"], [12.0, 1234.5, 7.0], "float64"),          # euro with German grouping
    (["1,234.50 USD", "12 USD", "-0.5 USD"], [1234.5, 12.0, -0.5], "float64"),  # an ISO code after the amount
    (["US$5", "US$7.25"], [5.0, 7.25], "float64"),
    (["₹1,23,456", "₹99", "₹12,34,567"], [123456, 99, 1234567], "int64"),     # rupees in lakh and crore
    (["1,23,456", "12,34,567.5", "999", "12,345"], [123456.0, 1234567.5, 999.0, 12345.0], "float64"),  # lakh without a symbol
])
def test_money_and_lakh_grouped_numbers_read_as_numbers(cells, numbers, dtype):
    """'$1,234.50', '€12.00', '1,234.50 USD' and '1,23,456' columns were left out as features with no reason given."""
    assert _column(cells) == (numbers, dtype, None)


@pytest.mark.parametrize(("cells", "sep", "why"), [
    (["$1,234.50", "12 EUR", "$3"], ",", "text like '$1,234.50' mixed with '12 EUR': write every cell as one currency in one place"),
    (["$1,234.50", "12", "$3"], ",", "text like '$1,234.50' mixed with '12': write every cell as one currency in one place"),
    (["1,23,456", "1,234,567", "12"], ",", "numbers with Indian (lakh) ',' grouping and '.' decimals, but also '1,234,567': write every number one way"),
    # both readings possible: never a silent guess between a thousands and a decimal mark
    (["$1,234", "$5,678", "$12"], ",", "numbers like '1,234', 1234 with ',' thousands or 1.234 with a decimal ',': "
                                       "write them without thousands separators, or with their decimals"),
    (["€4.900", "€12", "€7.250"], ",", "numbers like '4.900', 4900 with '.' thousands or 4.900 with a decimal '.': "
                                       "write them without thousands separators, or with their decimals"),
    (["1,234", "5,678", "12"], ";", "numbers like '1,234', 1234 with ',' thousands or 1.234 with a decimal ',': "
                                    "write them without thousands separators, or with their decimals"),
], ids=["two-currencies", "money-and-bare", "lakh-and-western", "comma-either-way", "dot-either-way", "decimal-comma-file-either-way"])
def test_a_column_that_agrees_on_no_one_form_stays_text_with_its_reason(cells, sep, why):
    assert _column(cells, sep) == (cells, "str", why)


def test_a_decimal_comma_that_cannot_be_thousands_is_still_read():
    """'0,5' cannot be grouping, so '1,234' beside it is 1.234 (as before: a guard that the new refusal stays narrow)."""
    assert _column(["0,5", "1,234", "2"], ";") == ([0.5, 1.234, 2.0], "float64", None)


def _price_file(path, price):
    rng = np.random.default_rng(11)
    y = np.arange(60) % 2
    rows = [f'r{i:03d},{y[i]},{rng.normal() + 3 * y[i]:.3f},"{price(i)}"' for i in range(60)]
    path.write_text("id,label,x,price\n" + "\n".join(rows) + "\n")


def test_ingest_says_why_a_money_column_is_left_out_and_the_fix(tmp_path, keys, prefect_harness):
    src = tmp_path / "prices.csv"
    _price_file(src, lambda i: f"${1000 + 7 * i:,.2f}" if i % 2 else f"{10 + i} EUR")
    res = invoke("ingest", "--source", src, "--id-col", "id", "--dest", tmp_path / "st", "--holdout-fraction", "0", env=_env(keys))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:2] == [
        "columns: features: x; ignored: price (text like '10 EUR' mixed with '$1,007.00': write every cell as one currency in one place); positive class: 1",
        "not read as numbers, so not features: price (fix: write each such column one way (one currency, one grouping) and ingest again; "
        "or pass --ignore-cols price to leave it out knowingly)",
    ]


def test_a_column_left_out_with_ignore_cols_gets_no_reason(tmp_path):
    """The reason (and the fix) is for a column left out in silence: `--ignore-cols price` said it already."""
    from labelguard.tasks.features import describe_columns
    from labelguard.tasks.readers import reading_notes
    from labelguard.tasks.sources import load_source

    src = tmp_path / "prices.csv"
    _price_file(src, lambda i: "4.900,00" if i % 2 else "4,900.00")
    frame, spec, _ = load_source(str(src), id_col="id", label_col="label", timestamp_col=None, ignore_cols=["price"])
    assert (describe_columns(frame, spec), reading_notes(frame)) == ("features: x; ignored: price", [])


def test_ingest_signs_a_dollar_column_as_a_feature(tmp_path, keys):
    """Through load_source (what ingest reads before Prefect starts): the money column is a feature, as numbers."""
    from labelguard.tasks.sources import load_source

    src = tmp_path / "prices.csv"
    _price_file(src, lambda i: f"${1000 + 7 * i:,.2f}")
    frame, spec, _ = load_source(str(src), id_col="id", label_col="label", timestamp_col=None)
    assert spec.feature_cols == ("x", "price")
    assert frame["price"].tolist()[:3] == [1000.0, 1007.0, 1014.0]


# ---------------------------------------------------------------- 2: a `sep=` line that names another delimiter


@pytest.mark.parametrize(("line", "sep", "said", "used"), [
    ("sep=;", ",", "';' as the delimiter, but its rows are ','-delimited", "correct line 1 to 'sep=,' or delete it, or pass --delimiter ','"),
    ("sep=,", ";", "',' as the delimiter, but its rows are ';'-delimited", "correct line 1 to 'sep=;' or delete it, or pass --delimiter ';'"),
    ("sep=\t", ",", "'tab' as the delimiter, but its rows are ','-delimited", "correct line 1 to 'sep=,' or delete it, or pass --delimiter ','"),
    ("sep=x", "\t", "'x' as the delimiter, but its rows are 'tab'-delimited", "correct line 1 to 'sep=\\t' or delete it, or pass --delimiter 'tab'"),
], ids=["semicolon-line-comma-rows", "comma-line-semicolon-rows", "tab-line", "letter-line"])
def test_a_sep_line_naming_another_delimiter_is_named_with_the_fix(tmp_path, keys, line, sep, said, used):
    """`sep=;` above comma-delimited rows said "the header reads as one column …, so the file looks ','-delimited
    (fix: pass --delimiter ',', or leave --delimiter out (labelguard detects it))": left out, the line decides."""
    src = tmp_path / "excel.csv"
    rows = [sep.join(["id", "x", "label"])] + [sep.join([f"r{i:02d}", f"{i / 7:.3f}", str(i % 2)]) for i in range(30)]
    src.write_text(line + "\n" + "\n".join(rows) + "\n")
    before = _listing(tmp_path)
    res = invoke("ingest", "--source", src, "--id-col", "id", "--dest", tmp_path / "st", env=_env(keys))
    shown = repr(line)
    assert (res.exit_code, res.stdout, res.stderr) == (2, "", f"error: excel.csv starts with the line {shown}, which names {said} (fix: {used})\n")
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("delimiter", [None, ","])
def test_a_right_sep_line_and_an_explicit_delimiter_still_read(tmp_path, delimiter):
    """`sep=;` above ';' rows reads as before; `--delimiter ','` (the fix above) reads past a wrong line."""
    from labelguard.tasks.readers import read_file

    sep = ";" if delimiter is None else ","
    src = tmp_path / "excel.csv"
    src.write_text("sep=;\n" + "\n".join([sep.join(["id", "x", "label"])] + [sep.join([f"r{i}", f"{i}.5", str(i % 2)]) for i in range(5)]) + "\n")
    frame, dialect = read_file(src, id_col="id", delimiter=delimiter)
    assert (dialect.delimiter, dialect.sep_hint, frame.columns.tolist(), frame["x"].tolist()) == (sep, True, ["id", "x", "label"], [0.5, 1.5, 2.5, 3.5, 4.5])


# ---------------------------------------------------------------- 4: LABELGUARD_LEDGER=none


@pytest.mark.parametrize("value", ["none", "None"])
def test_ledger_none_in_the_environment_disables_the_ledger_as_the_option_does(tmp_path, monkeypatch, own_key_env, value):
    """`LABELGUARD_LEDGER=none` appended the signed entries to a file named 'none' in the current folder."""
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "s.csv"
    invoke("sample", "--out", src, "--rows", "60", "--seed", "1")
    res = invoke("ingest", "--source", src, "--id-col", "id", "--label-col", "sentiment", "--dest", tmp_path / "lake",
                 "--partition", "date=2026-01-01", env={**own_key_env, "LABELGUARD_LEDGER": value})
    assert res.exit_code == 0, res.output
    assert [line.split(":")[0] for line in res.stdout.splitlines()] == ["holdout", "partition"]  # no "ledger: …" line
    assert not (tmp_path / value).exists()
    assert not (tmp_path / "keys" / "ledger.jsonl").exists()


# ---------------------------------------------------------------- 3: --json - is stdout


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory, keys):
    """A signed dataset of 200 synthetic reviews with its 60-row holdout (too few rows to vouch for: verify says inconclusive)."""
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.synthetic import make_reviews

    root = tmp_path_factory.mktemp("r7b") / "ds"
    key = load_signing_key(keys[0])
    write_dataset(LocalStore(root / "holdout"), make_reviews(60, seed=2), ColumnSpec(), key, source={"kind": "synthetic"},
                  dataset=DatasetRef("r7b", "holdout", part="holdout"))
    write_dataset(LocalStore(root), make_reviews(200, seed=1), ColumnSpec(), key, source={"kind": "synthetic"}, dataset=DatasetRef("r7b", "data"))
    return root


@pytest.mark.parametrize(("guards", "code", "verdict", "last"), [
    (["--guards", "manifest,schema"], 0, "pass", "verdict: pass"),
    ([], 1, "inconclusive", "cannot tell: "),
], ids=["pass", "inconclusive"])
def test_json_dash_writes_the_json_alone_to_stdout(small_dataset, keys, tmp_path, monkeypatch, guards, code, verdict, last):
    """`verify --json -` wrote a file named '-'; now stdout is the JSON alone and the table goes to stderr."""
    import json

    monkeypatch.chdir(tmp_path)
    res = invoke("verify", small_dataset, "--json", "-", "--no-progress", *guards, env={"LABELGUARD_VERIFY_KEY": str(keys[1])})
    assert res.exit_code == code, res.output
    doc = json.loads(res.stdout)
    assert (doc["verdict"], doc["ok"]) == (verdict, code == 0)
    lines = res.stderr.splitlines()
    assert lines[0] == f"verify {small_dataset}" and any(line.startswith(last) for line in lines[-2:])
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_a_mistyped_ledger_variable_is_refused_as_a_mistyped_option_is(small_dataset, keys, tmp_path, monkeypatch, kind):
    """A `LABELGUARD_LEDGER` naming no file silently verified without the ledger (rollback and wrong-dataset off)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / ("ledgr.jsonl" if kind == "missing" else "folder")
    if kind == "folder":
        path.mkdir()
    res = invoke("verify", small_dataset, "--guards", "manifest", "--no-progress",
                 env={"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_LEDGER": str(path)})
    what = "does not exist" if kind == "missing" else "is a directory"
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr.splitlines() == [f"error: LABELGUARD_LEDGER {path} {what} (fix: set LABELGUARD_LEDGER to the ledger file "
                                       "ingest wrote (or to none to check without one))"]
    assert _listing(tmp_path) == ([] if kind == "missing" else ["folder"])


@pytest.mark.flow
def test_drift_json_dash_writes_the_days_alone_to_stdout(tmp_path, keys, prefect_harness, monkeypatch):
    """`drift --json -` as verify's: the days' JSON on stdout, the table on stderr, no file named '-'."""
    import json

    from labelguard.tasks import drift
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from tests.test_drift import _day

    root = LocalStore(tmp_path / "lake")
    for i in range(2):
        drift.ingest_partition(root, _day(i), ColumnSpec(positive_class=1), load_signing_key(keys[0]), day=f"2026-03-{i + 1:02d}",
                               source={"kind": "test"}, holdout_fraction=0.3 if i == 0 else 0.0, dataset_id="r7b-drift")
    monkeypatch.chdir(tmp_path)
    res = invoke("drift", root.uri, "--ledger", "none", "--json", "-", env=_env(keys))
    assert res.exit_code == 0, res.stderr
    assert [(d["date"], d["alarm"]) for d in json.loads(res.stdout)] == [("2026-03-01", False), ("2026-03-02", False)]
    assert res.stderr.startswith(f"drift {root.uri} (per-test level ") and "│ 2026-03-02 │" in res.stderr
    assert not (tmp_path / "-").exists()


# ---------------------------------------------------------------- 5: a reader that stops reading


def _run_with_stdout_closed(args, env):
    """The console script with its stdout a pipe whose reader has gone (`| head -0`) before the first write."""
    import os
    import subprocess
    import sys

    exe = os.path.join(os.path.dirname(sys.executable), "labelguard")
    proc = subprocess.Popen([exe, *map(str, args)], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    return proc.wait(timeout=120), stderr


@pytest.mark.parametrize(("extra", "code", "shown"), [
    (["--guards", "manifest,schema"], 0, lambda lines, ds: lines == []),
    (["--guards", "manifest,schema", "--json", "-"], 0, lambda lines, ds: lines[0] == f"verify {ds}" and lines[-1].startswith("verdict: pass")),
    ([], 1, lambda lines, ds: len(lines) == 1 and lines[0].startswith("cannot tell: ")),
], ids=["pass", "pass-json-stdout", "inconclusive"])
def test_a_closed_stdout_keeps_the_verdicts_exit_code(small_dataset, keys, extra, code, shown):
    """`verify … | head -1` exited 1, the code of a fired guard, on a clean dataset (rich exits 1 on a broken pipe);
    stderr says what it says with stdout open (with --json -, the table), never a traceback."""
    rc, stderr = _run_with_stdout_closed(["verify", small_dataset, "--no-progress", *extra], {"LABELGUARD_VERIFY_KEY": str(keys[1])})
    assert rc == code, stderr
    assert shown(stderr.splitlines(), small_dataset), stderr


# ---------------------------------------------------------------- 6: the id column the data seems to have


def _reviews_with_id(path, name, ids=None, extra=None):
    rng = np.random.default_rng(6)
    ids = ids or [f"u{i:03d}" for i in range(40)]
    head = [name, "label", "x"] + ([extra[0]] if extra else [])
    rows = [[str(ids[i]), str(i % 2), f"{rng.normal() + 3 * (i % 2):.3f}"] + ([str(extra[1][i])] if extra else []) for i in range(40)]
    path.write_text("\n".join(",".join(r) for r in [head, *rows]) + "\n")


@pytest.mark.parametrize("command", ["poison", "ingest"])
@pytest.mark.parametrize(("name", "ids"), [("uid", None), ("customer_id", list(range(100, 140))), ("Order-ID", None)])
def test_a_missing_default_id_names_the_column_that_looks_like_the_id(tmp_path, keys, command, name, ids):
    """`poison` (and ingest) without --id-col said "(fix: pass --id-col naming an existing column)" beside a unique 'uid'."""
    src = tmp_path / "r.csv"
    _reviews_with_id(src, name, ids)
    before = _listing(tmp_path)
    args = (["poison", src, "--attack", "random", "--rate", "0.1", "--out", tmp_path / "p.csv"] if command == "poison"
            else ["ingest", "--source", src, "--dest", tmp_path / "st"])
    res = invoke(*args, env=_env(keys))
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (f"error: column 'review_id' not found (have: '{name}', 'label', 'x') "
                          f"(fix: '{name}' looks like the id column (unique in every row): pass --id-col {name})\n")
    assert _listing(tmp_path) == before


@pytest.mark.parametrize(("name", "ids", "extra"), [
    ("uid", [f"u{i % 20}" for i in range(40)], None),              # not unique: no id
    ("uid", None, ("order_id", list(range(40)))),                  # two columns look like ids: no guess
], ids=["not-unique", "two-candidates"])
def test_no_id_is_suggested_unless_exactly_one_column_looks_like_one(tmp_path, keys, name, ids, extra):
    src = tmp_path / "r.csv"
    _reviews_with_id(src, name, ids, extra)
    res = invoke("poison", src, "--attack", "random", "--rate", "0.1", "--out", tmp_path / "p.csv", env=_env(keys))
    assert res.exit_code == 2
    assert "looks like the id column" not in res.stderr and res.stderr.endswith("(fix: pass --id-col naming an existing column)\n")


def test_help_cut_off_by_a_closed_stdout_is_the_shells_sigpipe_code_not_fired():
    """`labelguard --help | head -1` exited 1 (typer's answer to a broken pipe), the code of a fired guard."""
    assert _run_with_stdout_closed(["--help"], {}) == (141, "")
