"""What verify, the row sidecar and the writer report, value by value: written against the survivors of the twelfth to fourteenth sessions'
function-by-function mutation runs of tasks/dataset.py (``bench/mutation.py --functions dataset ...``, bench/RESULTS.md).

Every expectation is worked out from the data the test builds: which object, which version, which rows, which words."""

from __future__ import annotations

import hashlib

import pytest

from labelguard.tasks.dataset import DATA_KEY, load_verified, read_manifest, seal_dataset, to_parquet_bytes, write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore, open_store
from labelguard.tasks.synthetic import make_reviews


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lake(store, keys, sizes=(20, 30), seed=21):
    """``store`` sealed as parts part-0.parquet, part-1.parquet, ... of ``sizes`` rows (ids rev-0000000 on, in order)."""
    frame = make_reviews(sum(sizes), seed=seed)
    names, lo = [], 0
    for i, n in enumerate(sizes):
        names.append(f"part-{i}.parquet")
        store.put(names[-1], to_parquet_bytes(frame.iloc[lo : lo + n].reset_index(drop=True)))
        lo += n
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=names)
    return frame


def _flipped(frame, *rows):
    out = frame.copy()
    for r in rows:
        out.loc[r, "label"] = 1 - out.loc[r, "label"]
    return out


# --- _verify_objects -------------------------------------------------------------------------------------------


def test_a_missing_part_does_not_stop_the_others_from_being_read_and_localized(tmp_path, keys):
    """The first part gone and a label of the second edited: both failures counted, the second's rows read, the
    edited row named and the first part's 20 rows counted missing (a ``break`` at the first gone object would stop)."""
    store = LocalStore(tmp_path / "lake")
    frame = _lake(store, keys)
    store.delete("part-0.parquet")
    edited = _flipped(frame.iloc[20:].reset_index(drop=True), 5)
    store.put("part-1.parquet", to_parquet_bytes(edited), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "object-missing"
    assert rep.detail == "data object part-0.parquet is gone (+1 more object(s)); 1 label(s) changed, 0 row(s) otherwise edited, 0 added, 20 missing"
    assert rep.suspect_ids == ["rev-0000025"]
    assert rep.observed == {"objects": [{"key": "part-1.parquet", "sha256": _sha(store.get("part-1.parquet")), "version_id": None, "rows": 30}], "rows": 30}
    assert rep.manifest.payload == read_manifest(store).payload  # verify's audit record reads the version and source from it


def test_an_unreadable_part_does_not_stop_the_others_from_being_read_and_localized(tmp_path, keys):
    """The first part overwritten with bytes that are not Parquet, a label of the second edited: the second is still
    read, its edit named, the first part's rows counted missing."""
    store = LocalStore(tmp_path / "lake")
    frame = _lake(store, keys)
    signed = {o["key"]: o["sha256"] for o in read_manifest(store).payload["objects"]}
    store.put("part-0.parquet", b"not parquet", create_only=False)
    store.put("part-1.parquet", to_parquet_bytes(_flipped(frame.iloc[20:].reset_index(drop=True), 5)), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "digest-mismatch"
    assert rep.detail == (f"part-0.parquet: SHA-256 {_sha(b'not parquet')[:12]}… differs from signed {signed['part-0.parquet'][:12]}… and the object "
                          "is not readable Parquet (+1 more object(s)); 1 label(s) changed, 0 row(s) otherwise edited, 0 added, 20 missing")
    assert rep.suspect_ids == ["rev-0000025"]
    assert rep.observed == {"objects": [{"key": "part-0.parquet", "sha256": _sha(b"not parquet"), "version_id": None, "rows": None},
                                        {"key": "part-1.parquet", "sha256": _sha(store.get("part-1.parquet")), "version_id": None, "rows": 30}],
                            "rows": 30}


def test_when_no_part_can_be_read_the_first_failure_is_named_with_the_count_of_the_others(tmp_path, keys):
    """Nothing decodes: the first failure, "(+N more object(s))" for the others, and "no object readable" only when
    some object is there but unreadable (a gone object is not unreadable); the report keeps the manifest."""
    store = LocalStore(tmp_path / "lake")
    _lake(store, keys)
    manifest = read_manifest(store)
    for key in ("part-0.parquet", "part-1.parquet"):
        store.delete(key)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("object-missing", "data object part-0.parquet is gone (+1 more object(s))")
    assert rep.manifest.payload == manifest.payload and rep.frame is None and rep.suspect_ids is None and rep.observed == {"objects": []}
    store.put("part-1.parquet", b"not parquet")
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("object-missing", "data object part-0.parquet is gone (+1 more object(s)); no object readable: cannot localize")
    assert rep.observed == {"objects": [{"key": "part-1.parquet", "sha256": _sha(b"not parquet"), "version_id": None, "rows": None}]}
    assert rep.manifest.payload == manifest.payload

    single = LocalStore(tmp_path / "ds")
    write_dataset(single, make_reviews(10, seed=24), ColumnSpec(), load_signing_key(keys[0]), source={})
    single.delete(DATA_KEY)
    rep = load_verified(single, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("object-missing", f"data object {DATA_KEY} is gone")


def test_decoding_only_id_and_label_detects_a_feature_edit_but_names_no_row(tmp_path, keys):
    """``columns`` reaches the Parquet read: the frame holds only those columns, so an edit of a feature is caught by
    the SHA-256 and not localized (the full read would name the row)."""
    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(40, seed=22)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    edited = frame.copy()
    edited.loc[7, "polarity"] += 1.0
    store.put(DATA_KEY, to_parquet_bytes(edited), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]), columns=["review_id", "label"])
    assert rep.code == "digest-mismatch" and rep.suspect_ids == []
    assert list(rep.frame.columns) == ["review_id", "label"]
    assert rep.detail.endswith("; 0 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    full = load_verified(store, load_verify_key(keys[1]))
    assert full.suspect_ids == ["rev-0000007"] and list(full.frame.columns) == list(frame.columns)


def _s3(uri):
    store = open_store(uri)
    store.ensure_writable()
    return store


def test_an_overwritten_object_names_its_version_and_the_pinned_one(s3_uri, keys):
    """On a versioned bucket each at-rest failure says which version is there and which the manifest pins, with the
    digests cut to 12 hex digits."""
    store = _s3(s3_uri)
    frame = make_reviews(60, seed=23)
    manifest = write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    pinned = manifest.payload["objects"][0]["version_id"]
    signed = manifest.payload["objects"][0]["sha256"]
    vk = load_verify_key(keys[1])

    store.put(DATA_KEY, to_parquet_bytes(frame.drop(index=[4, 5])), create_only=False)
    now = store.head(DATA_KEY).version_id
    assert now != pinned
    rep = load_verified(store, vk)
    assert (rep.code, rep.detail) == ("row-count", f"{DATA_KEY}: 58 rows, manifest says 60 (version {now}, manifest pins {pinned}); "
                                                   "0 label(s) changed, 0 row(s) otherwise edited, 0 added, 2 missing")

    store.put(DATA_KEY, to_parquet_bytes(_flipped(frame, 9)), create_only=False)
    now, digest = store.head(DATA_KEY).version_id, _sha(store.get(DATA_KEY))
    rep = load_verified(store, vk)
    assert (rep.code, rep.detail) == ("digest-mismatch", f"{DATA_KEY}: SHA-256 {digest[:12]}… differs from signed {signed[:12]}… (version {now}, "
                                                         f"manifest pins {pinned}); 1 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    assert rep.suspect_ids == ["rev-0000009"]

    store.put(DATA_KEY, b"PAR1 cut short", create_only=False)
    now = store.head(DATA_KEY).version_id
    rep = load_verified(store, vk)
    assert (rep.code, rep.detail) == ("digest-mismatch", f"{DATA_KEY}: SHA-256 {_sha(b'PAR1 cut short')[:12]}… differs from signed {signed[:12]}… and the "
                                                         f"object is not readable Parquet (version {now}, manifest pins {pinned}); no object readable: cannot localize")


# --- _hashable (nested Parquet cells in the row sidecar) ------------------------------------------------------


def _decoded(frame):
    from labelguard.tasks.dataset import from_parquet_bytes

    return from_parquet_bytes(to_parquet_bytes(frame))


def test_nested_cells_hash_as_their_canonical_json_text():
    """The sidecar's row hash of a list or struct cell is the hash of its JSON text with sorted keys, arrays as lists
    and anything else JSON lacks (a timestamp) as its str: a sidecar signed by one labelguard must match the next."""
    import datetime as dt

    import pandas as pd

    from labelguard.tasks.dataset import row_digests

    frame = _decoded(pd.DataFrame({
        "review_id": ["a", "b", "c"], "label": [0, 1, 0],
        "vals": [[0.1, 1.0000000001], None, [2.0]],
        "meta": [{"b": [1, 2], "a": dt.datetime(2026, 1, 2, 3, 4, 5)}, {"b": [3], "a": dt.datetime(2026, 1, 2)}, None],
    }))
    assert list(frame.loc[0, "meta"]) == ["b", "a"]  # decoded in the schema's order, not sorted
    texts = pd.DataFrame({"vals": ["[0.1, 1.0000000001]", None, "[2.0]"],
                          "meta": ['{"a": "2026-01-02 03:04:05", "b": [1, 2]}', '{"a": "2026-01-02 00:00:00", "b": [3]}', None]})
    expected = pd.util.hash_pandas_object(texts, index=False).tolist()
    assert row_digests(frame, ColumnSpec(feature_cols=())).row_hash.tolist() == expected
    # a list column with a single non-empty cell is nested too
    one = _decoded(pd.DataFrame({"review_id": ["a", "b"], "label": [0, 1], "vals": [None, [2.5, 3.0]]}))
    texts = pd.DataFrame({"vals": [None, "[2.5, 3.0]"]})
    assert row_digests(one, ColumnSpec(feature_cols=())).row_hash.tolist() == pd.util.hash_pandas_object(texts, index=False).tolist()


def test_an_edit_in_the_tenth_decimal_of_a_list_cell_is_localized(tmp_path, keys):
    """numpy prints 1.0000000001 as 1.: only the JSON of the full values tells the edited cell from the signed one."""
    import pandas as pd

    from labelguard.tasks.dataset import from_parquet_bytes

    frame = pd.DataFrame({"id": [f"n{i}" for i in range(12)], "label": [0, 1] * 6, "vals": [[1.0, float(i)] for i in range(12)]})
    spec = ColumnSpec(id_col="id", label_col="label", feature_cols=(), timestamp_col=None)
    store = LocalStore(tmp_path / "ds")
    write_dataset(store, frame, spec, load_signing_key(keys[0]), source={})
    stored = from_parquet_bytes(store.get(DATA_KEY))
    stored.at[6, "vals"] = [1.0000000001, 6.0]
    store.put(DATA_KEY, to_parquet_bytes(stored), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.suspect_ids) == ("digest-mismatch", ["n6"])
    assert rep.detail.endswith("; 0 label(s) changed, 1 row(s) otherwise edited, 0 added, 0 missing")


def _sealed_in_two_column_orders(tmp_path, keys, *, rows: int, seed: int):
    """A lake of two parts, the second's columns in reverse order, sealed: (store, the frame both parts hold)."""
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(rows, seed=seed)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    store.put("part-1.parquet", to_parquet_bytes(frame.iloc[10:].reset_index(drop=True)[list(reversed(frame.columns))]))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet", "part-1.parquet"])
    return store, frame


def test_parts_whose_columns_differ_only_in_order_verify_as_one_table(tmp_path, keys):
    """A seal accepts parts whose columns come in another order (read by name); verify concatenates them by name."""
    store, frame = _sealed_in_two_column_orders(tmp_path, keys, rows=30, seed=25)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("ok", f"signature, identity ({rep.manifest.payload['dataset']['id']}, data), version, SHA-256 and 30 rows verified")
    assert rep.frame.review_id.tolist() == frame.review_id.tolist()


def test_unlisted_parts_are_read_with_the_same_columns_and_an_unreadable_one_does_not_hide_the_next(tmp_path, keys):
    """Verifying only id and label reads the unlisted parts' id and label too, so their rows are named as added; an
    unreadable unlisted part is counted as unnamed and the parts after it are still read."""
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(30, seed=26)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:20].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    store.put("part-1.parquet", b"not parquet")
    store.put("part-2.parquet", to_parquet_bytes(frame.iloc[20:].reset_index(drop=True)))
    rep = load_verified(store, load_verify_key(keys[1]), columns=["review_id", "label"])
    assert rep.code == "unlisted-object"
    assert rep.detail == ("2 Parquet object(s) under the dataset that the signed manifest does not list: part-1.parquet, part-2.parquet "
                          "(1 of them unreadable or of another schema: their rows are not named); 0 label(s) changed, 0 row(s) otherwise edited, "
                          "10 added, 0 missing")
    assert rep.suspect_ids == [f"rev-{i:07d}" for i in range(20, 30)]
    assert list(rep.frame.columns) == ["review_id", "label"]


def test_a_sidecar_signature_problem_keeps_the_manifest_the_frame_and_what_was_observed(tmp_path, keys):
    """The data objects match the signed manifest but rows.sig.json is gone: the report still carries the manifest
    (verify's audit record reads its version and source), the decoded rows and the objects as read, and names no row."""
    from labelguard.tasks.dataset import ROWS_SIG_KEY

    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(40, seed=27)
    manifest = write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={"kind": "kept"})
    store.delete(ROWS_SIG_KEY)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("object-missing", f"row sidecar signature {ROWS_SIG_KEY} is gone (the data objects match the signed manifest)")
    assert rep.manifest.payload == manifest.payload and rep.suspect_ids == []
    digest = _sha(store.get(DATA_KEY))
    assert rep.observed == {"objects": [{"key": DATA_KEY, "sha256": digest, "version_id": None, "rows": 40}], "rows": 40, "sha256": digest, "version_id": None}
    assert rep.frame.equals(frame)


# --- localize: a copy of a signed row under its own id ---------------------------------------------------------


def test_a_copy_of_a_signed_row_under_its_id_is_named_as_added(tmp_path, keys):
    """A row appended at rest with an id the signed rows already have (row 3 again, its label flipped) was counted as
    nothing ("0 added", no row named) although the object has 21 rows for 20 signed: each row beyond the signed count of
    its id is added. Put first, the copy is the id's first row, so its label reads as changed, and the id is named once."""
    import pandas as pd

    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(20, seed=29)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    copy = frame.iloc[[3]].assign(label=1 - frame.label.iloc[3])
    store.put(DATA_KEY, to_parquet_bytes(pd.concat([frame, copy], ignore_index=True)), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("row-count", f"{DATA_KEY}: 21 rows, manifest says 20; 0 label(s) changed, 0 row(s) otherwise edited, 1 added, 0 missing")
    assert rep.suspect_ids == ["rev-0000003"]
    new = frame.iloc[[5]].assign(review_id="rev-0000099")
    store.put(DATA_KEY, to_parquet_bytes(pd.concat([copy, frame, new, new], ignore_index=True)), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("row-count", f"{DATA_KEY}: 23 rows, manifest says 20; 1 label(s) changed, 0 row(s) otherwise edited, 3 added, 0 missing")
    assert rep.suspect_ids == ["rev-0000003", "rev-0000099"]


# --- _sidecar_signature_problem --------------------------------------------------------------------------------


def test_a_sidecar_signature_of_the_same_part_for_another_sidecar_does_not_vouch(tmp_path, keys):
    """Signed by the trusted key and naming this very dataset part, but for another sidecar digest: it vouches for
    nothing the manifest pins (each of the three conditions refuses on its own)."""
    from labelguard.tasks.dataset import ROWS_SIG_KEY, sidecar_envelope
    from labelguard.tasks.manifest import DatasetRef, SignedManifest

    store = LocalStore(tmp_path / "ds")
    write_dataset(store, make_reviews(40, seed=28), ColumnSpec(), load_signing_key(keys[0]), source={})
    signed = SignedManifest.from_bytes(store.get(ROWS_SIG_KEY)).payload
    other = sidecar_envelope(DatasetRef.from_dict(signed["dataset"]), ColumnSpec.from_dict(signed["columns"]), [{"key": k} for k in signed["objects"]],
                             "0" * 64, signed["rows"], load_signing_key(keys[0]))
    store.put(ROWS_SIG_KEY, other.to_bytes(), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("bad-signature", f"row sidecar signature {ROWS_SIG_KEY} does not vouch for the signed sidecar: it was edited at rest "
                                                       "(the data objects match the signed manifest)")
    assert rep.suspect_ids == []


# --- _localize_with_sidecar ------------------------------------------------------------------------------------


def test_a_sidecar_signature_of_another_dataset_cannot_localize_an_edit(tmp_path, keys):
    """The data edited and rows.sig.json swapped for another dataset's (validly signed by the same key): the edit is
    found by the SHA-256, and the sidecar is not used to name rows of a dataset it does not belong to."""
    from labelguard.tasks.dataset import ROWS_SIG_KEY

    store, other = LocalStore(tmp_path / "ds"), LocalStore(tmp_path / "other")
    frame = make_reviews(30, seed=30)
    manifest = write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    write_dataset(other, make_reviews(30, seed=31), ColumnSpec(), load_signing_key(keys[0]), source={})
    store.put(ROWS_SIG_KEY, other.get(ROWS_SIG_KEY), create_only=False)
    store.put(DATA_KEY, to_parquet_bytes(_flipped(frame, 2)), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    signed, digest = manifest.payload["objects"][0]["sha256"], _sha(store.get(DATA_KEY))
    assert (rep.code, rep.detail) == ("digest-mismatch", f"{DATA_KEY}: SHA-256 {digest[:12]}… differs from signed {signed[:12]}…; "
                                                         "row sidecar belongs to another dataset or version: cannot localize")
    assert rep.suspect_ids is None


# --- read_manifest ---------------------------------------------------------------------------------------------


def test_objects_without_a_manifest_or_with_a_broken_one_say_which_word_for_word(tmp_path, keys):
    from labelguard.tasks.dataset import MANIFEST_KEY

    store = LocalStore(tmp_path / "ds")
    store.put(DATA_KEY, to_parquet_bytes(make_reviews(5, seed=32)))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("missing-manifest", f"objects at {store.uri} but no manifest.json: the data cannot be vouched for")
    store.put(MANIFEST_KEY, b"{not json")
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("bad-manifest", "manifest is not valid labelguard JSON: Expecting property name enclosed in double quotes: "
                                                      "line 1 column 2 (char 1)")


# --- row_digests -----------------------------------------------------------------------------------------------


def test_rows_of_only_an_id_and_a_label_carry_row_hash_zero():
    """With no other column the sidecar's row hash is 0 for every row, as every labelguard wrote it: not the hash of an
    empty row (3527539), which would read every signed row of such a dataset as otherwise edited."""
    import pandas as pd

    from labelguard.tasks.dataset import row_digests

    digests = row_digests(pd.DataFrame({"review_id": ["a", "b", "c"], "label": [0, 1, 0]}), ColumnSpec(feature_cols=()))
    assert digests.to_dict("list") == {"id": ["a", "b", "c"], "label": [0, 1, 0], "row_hash": [0, 0, 0]}


# --- signed_source_problem (ingest's check of a source that carries a manifest) --------------------------------


def _edited_lake(store, keys, names, seed=31):
    """``names`` (keys relative to ``store``) sealed with 10 rows each, then the label of row 0 of the last one flipped."""
    frame = make_reviews(10 * len(names), seed=seed)
    for i, name in enumerate(names):
        store.put(name, to_parquet_bytes(frame.iloc[10 * i : 10 * i + 10].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=list(names))
    store.put(names[-1], to_parquet_bytes(_flipped(frame.iloc[-10:].reset_index(drop=True), 0)), create_only=False)
    return frame


def test_an_edited_lake_is_found_from_its_root_a_subfolder_with_a_slash_and_a_folder_named_like_a_file(tmp_path, keys):
    """The source is the sealed folder itself (no path left below the manifest), a subfolder written with a trailing
    slash, or a folder named ``….parquet`` (Spark names its output folders so); an upper-case X in the path is no glob."""
    from labelguard.tasks.dataset import signed_source_problem

    verify = load_verify_key(keys[1])
    lake = tmp_path / "Xlake.parquet"
    store = LocalStore(lake)
    _edited_lake(store, keys, ["date=1/part-0.parquet", "date=2/part-0.parquet"])
    for source in (str(lake), str(lake) + "/", str(lake / "date=2") + "/", str(lake / "date=2" / "part-0.parquet")):
        location, rep = signed_source_problem(source, verify)
        assert (location, rep.code, rep.suspect_ids) == (store.uri, "digest-mismatch", ["rev-0000010"]), source
    # a file beside the lake that the manifest does not list is no signed source, though the lake fails
    (lake / "date=3").mkdir()
    (lake / "date=3" / "other.parquet").write_bytes(to_parquet_bytes(make_reviews(5, seed=32)))
    assert signed_source_problem(str(lake / "date=3" / "other.parquet"), verify) is None
    assert signed_source_problem(str(lake / "date=3"), verify) is None


def test_a_listed_part_whose_name_starts_with_x_is_checked(tmp_path, keys):
    """The part's path below the manifest is taken as it is (``Xtra.parquet``, not ``tra.parquet``)."""
    from labelguard.tasks.dataset import signed_source_problem

    store = LocalStore(tmp_path / "lake")
    _edited_lake(store, keys, ["Xtra.parquet"])
    location, rep = signed_source_problem(str(tmp_path / "lake" / "Xtra.parquet"), load_verify_key(keys[1]))
    assert (location, rep.code, rep.suspect_ids) == (store.uri, "digest-mismatch", ["rev-0000000"])


def test_a_part_named_relative_to_a_sealed_working_directory_is_checked_as_with_a_dot(tmp_path, keys, monkeypatch):
    """Inside the sealed lake, ``date=2/part-0.parquet`` and ``date=2`` are the parts ``./date=2/part-0.parquet`` names:
    checked against the lake's manifest, found at ``.`` (the walk up stopped at the path's first folder and let an
    edited part through, `ingest` re-signing it; bench/RESULTS.md, ``signed_source_problem`` 111, 112)."""
    from labelguard.tasks.dataset import signed_source_problem

    verify = load_verify_key(keys[1])
    _edited_lake(LocalStore(tmp_path / "lake"), keys, ["date=1/part-0.parquet", "date=2/part-0.parquet"])
    _edited_lake(LocalStore(tmp_path / "flat"), keys, ["part-0.parquet", "part-1.parquet"])
    monkeypatch.chdir(tmp_path / "lake")
    for source in ("date=2/part-0.parquet", "date=2", "./date=2/part-0.parquet"):
        location, rep = signed_source_problem(source, verify)
        assert (location, rep.code, rep.suspect_ids) == (".", "digest-mismatch", ["rev-0000010"]), source
    monkeypatch.chdir(tmp_path / "flat")
    location, rep = signed_source_problem("part-1.parquet", verify)
    assert (location, rep.code, rep.suspect_ids) == (".", "digest-mismatch", ["rev-0000010"])
    assert signed_source_problem("other.parquet", verify) is None  # not listed: no signed source
    monkeypatch.chdir(tmp_path)  # a lake below the working directory is named as the source names it
    location, rep = signed_source_problem("lake/date=2/part-0.parquet", verify)
    assert (location, rep.code, rep.suspect_ids) == ("lake", "digest-mismatch", ["rev-0000010"])


def test_the_manifest_is_looked_for_up_to_eight_folders_above_a_local_part(tmp_path, keys):
    """A part seven folders below the manifest is found (the eighth folder looked in, counting the part's own);
    one eight folders below is not."""
    from labelguard.tasks.dataset import signed_source_problem

    verify = load_verify_key(keys[1])
    seven = "/".join("abcdefg") + "/part-0.parquet"
    store = LocalStore(tmp_path / "seven")
    _edited_lake(store, keys, [seven])
    location, rep = signed_source_problem(str(tmp_path / "seven" / seven), verify)
    assert (location, rep.code) == (store.uri, "digest-mismatch")
    eight = "/".join("abcdefgh") + "/part-0.parquet"
    _edited_lake(LocalStore(tmp_path / "eight"), keys, [eight])
    assert signed_source_problem(str(tmp_path / "eight" / eight), verify) is None


def test_an_s3_part_seven_prefixes_down_is_checked_against_its_manifest(s3_uri, s3_endpoint, keys, monkeypatch):
    """An ``s3://`` object (``.parquet`` or ``.pq``) seven prefixes below the manifest is found, with the endpoint
    given as an argument (none in the environment); a bucket with no manifest anywhere above the source is no signed
    source."""
    from labelguard.tasks.dataset import signed_source_problem

    store = _s3(s3_uri)
    below = "/".join("abcdefg")
    _edited_lake(store, keys, [f"{below}/part-0.parquet", f"{below}/part-1.pq"])
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    verify = load_verify_key(keys[1])
    for name, suspect in (("part-1.pq", ["rev-0000010"]), ("part-0.parquet", ["rev-0000010"])):
        location, rep = signed_source_problem(f"{s3_uri}/{below}/{name}", verify, endpoint_url=s3_endpoint)
        assert (location, rep.code, rep.suspect_ids) == (store.uri, "digest-mismatch", suspect), name
    assert signed_source_problem(f"s3://{s3_uri.split('/')[2]}/nothing-here/part.parquet", verify, endpoint_url=s3_endpoint) is None


def test_the_ledger_reaches_the_check_of_a_signed_source(tmp_path, keys):
    """An older validly signed state restored at rest passes without a ledger and is a rollback with one."""
    from labelguard.tasks.dataset import signed_source_problem
    from labelguard.tasks.ledger import Ledger

    ledger = Ledger(tmp_path / "ledger.jsonl")
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(10, seed=33)
    store.put("part-0.parquet", to_parquet_bytes(frame))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"], ledger=ledger)
    v1 = {k: store.get(k) for k in store.list()}
    store.put("part-0.parquet", to_parquet_bytes(_flipped(frame, 0)), create_only=False)
    seal_dataset(store, load_signing_key(keys[0]), ledger=ledger)
    for k, data in v1.items():
        store.put(k, data, create_only=False)
    verify = load_verify_key(keys[1])
    source = str(tmp_path / "lake" / "part-0.parquet")
    assert signed_source_problem(source, verify) is None
    location, rep = signed_source_problem(source, verify, ledger=ledger)
    assert (location, rep.code) == (store.uri, "rollback")


# --- _untrusted_manifest (an edited manifest; the row sidecar still signed) ------------------------------------


def _edit_manifest(store):
    """The manifest's row count raised by one at rest (its signature no longer verifies); the edited payload."""
    import json

    from labelguard.tasks.dataset import MANIFEST_KEY

    doc = json.loads(store.get(MANIFEST_KEY))
    doc["payload"]["rows"] += 1
    store.put(MANIFEST_KEY, json.dumps(doc).encode(), create_only=False)
    return doc["payload"]


def test_an_edited_manifest_keeps_its_report_manifest_and_decodes_only_the_asked_columns(tmp_path, keys):
    """With the manifest edited, the signed sidecar still names the flipped row; the report carries the (edited)
    manifest, and only the columns asked for are decoded."""
    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(30, seed=34)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    store.put(DATA_KEY, to_parquet_bytes(_flipped(frame, 4)), create_only=False)
    payload = _edit_manifest(store)
    rep = load_verified(store, load_verify_key(keys[1]), columns=["review_id", "label"])
    assert (rep.code, rep.suspect_ids) == ("bad-signature", ["rev-0000004"])
    assert rep.detail == ("manifest signature does not verify: the manifest was edited; "
                          "1 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    assert list(rep.frame.columns) == ["review_id", "label"] and rep.manifest.payload == payload


def test_an_edited_manifest_whose_data_object_is_gone_says_which_and_keeps_the_manifest(tmp_path, keys):
    store = LocalStore(tmp_path / "ds")
    write_dataset(store, make_reviews(20, seed=35), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    store.delete(DATA_KEY)
    payload = _edit_manifest(store)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail, rep.suspect_ids) == (
        "bad-signature", f"manifest signature does not verify: the manifest was edited; data object {DATA_KEY} is gone", None)
    assert rep.manifest.payload == payload


def test_an_edited_manifest_moved_away_from_its_part_keeps_the_manifest_in_its_report(tmp_path, keys):
    import shutil

    from labelguard.tasks.manifest import DatasetRef

    write_dataset(LocalStore(tmp_path / "ds" / "holdout"), make_reviews(20, seed=36), ColumnSpec(), load_signing_key(keys[0]),
                  source={"kind": "test"}, dataset=DatasetRef("ds-moved", role="holdout", part="holdout"))
    shutil.copytree(tmp_path / "ds" / "holdout", tmp_path / "elsewhere")
    store = LocalStore(tmp_path / "elsewhere")
    payload = _edit_manifest(store)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.detail == "manifest signature does not verify: the manifest was edited; row sidecar belongs to another dataset part: cannot localize"
    assert rep.manifest.payload == payload


def test_an_edited_manifest_and_sidecar_signature_by_the_trusted_key_is_not_taken_for_a_wrong_key(tmp_path, keys):
    """Both the manifest and rows.sig.json edited (both signed by the trusted key): the hint about the wrong public
    key is for an unknown-key manifest only."""
    import json

    from labelguard.tasks.dataset import ROWS_SIG_KEY

    store = LocalStore(tmp_path / "ds")
    write_dataset(store, make_reviews(20, seed=37), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    doc = json.loads(store.get(ROWS_SIG_KEY))
    doc["payload"]["rows"] += 1
    store.put(ROWS_SIG_KEY, json.dumps(doc).encode(), create_only=False)
    _edit_manifest(store)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("bad-signature", "manifest signature does not verify: the manifest was edited; "
                                                       "row sidecar signature missing or invalid: cannot localize")


# --- unlisted_objects ------------------------------------------------------------------------------------------


def test_a_subfolder_sealed_on_its_own_is_not_unlisted_data_of_the_lake_above(tmp_path, keys):
    """A sealed subfolder carries ``_manifest.json`` (the sealed name): its parts are its own, not unlisted objects of
    the lake whose manifest sits above it."""
    from labelguard.tasks.dataset import MANIFEST_KEY, SEALED_PREFIX

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(20, seed=38)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    store.put("sub/part-0.parquet", to_parquet_bytes(frame.iloc[10:].reset_index(drop=True)))
    seal_dataset(LocalStore(tmp_path / "lake" / "sub"), load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    assert store.head(f"sub/{SEALED_PREFIX}{MANIFEST_KEY}") is not None
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.frame.review_id.tolist()) == ("ok", frame.review_id.tolist()[:10])


def test_a_glob_scope_without_a_pattern_claims_every_object_and_a_part_without_a_suffix_is_unlisted_data(tmp_path, keys):
    """A signed ``glob`` scope with no pattern claims everything (``*``); Parquet bytes added under a name without
    ``.parquet`` (Hive's ``000000_0``) are data a reader takes, so they are unlisted (break-it r11 F1)."""
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(20, seed=39)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"], scope={"kind": "glob"})
    store.put("sub/000000_0", to_parquet_bytes(frame.iloc[10:].reset_index(drop=True)))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.suspect_ids) == ("unlisted-object", frame.review_id.tolist()[10:])
    assert rep.detail == ("1 Parquet object(s) under the dataset that the signed manifest does not list: sub/000000_0; "
                          "0 label(s) changed, 0 row(s) otherwise edited, 10 added, 0 missing")


def test_an_edited_manifest_over_parts_whose_columns_differ_in_order_still_localizes(tmp_path, keys):
    """The sidecar's localization after a forged manifest reads every part by column name, as verify does."""
    store, frame = _sealed_in_two_column_orders(tmp_path, keys, rows=20, seed=40)
    import json

    from labelguard.tasks.dataset import MANIFEST_KEY, own_key

    name = own_key(store, MANIFEST_KEY)
    doc = json.loads(store.get(name))
    doc["payload"]["rows"] += 1
    store.put(name, json.dumps(doc).encode(), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.suspect_ids, rep.frame.review_id.tolist()) == ("bad-signature", [], frame.review_id.tolist())


# --- _identity_problem -----------------------------------------------------------------------------------------


def test_a_part_or_root_in_a_role_not_accepted_is_wrong_dataset_word_for_word(tmp_path, keys):
    from labelguard.tasks.manifest import DatasetRef

    sign, verify = load_signing_key(keys[0]), load_verify_key(keys[1])
    root = LocalStore(tmp_path / "ds")
    write_dataset(root, make_reviews(20, seed=41), ColumnSpec(), sign, source={"kind": "test"}, dataset=DatasetRef("ds-roles"))
    write_dataset(root.child("holdout"), make_reviews(10, seed=42), ColumnSpec(), sign, source={"kind": "test"},
                  dataset=DatasetRef("ds-roles", role="holdout", part="holdout"))
    rep = load_verified(root.child("holdout"), verify, roles=("data", "baseline"))
    assert (rep.code, rep.detail) == ("wrong-dataset", "the manifest is for part 'holdout' of dataset ds-roles in role 'holdout'; expected data or baseline")
    assert load_verified(root.child("holdout"), verify, roles=("holdout",)).code == "ok"
    rep = load_verified(root, verify, roles=("holdout",))
    assert (rep.code, rep.detail) == ("wrong-dataset", "the manifest is for dataset ds-roles in role 'data'; expected holdout")
    assert load_verified(root, verify, roles=("data",)).code == "ok"


def test_a_root_manifest_in_a_subfolder_is_wrong_only_when_the_folder_above_holds_the_same_dataset(tmp_path, keys):
    """A dataset's root files copied into ``sub/`` of another dataset's folder, or of a folder whose manifest does not
    parse, verify there; copied into a subfolder of their own root they are wrong-dataset."""
    import shutil

    from labelguard.tasks.dataset import MANIFEST_KEY
    from labelguard.tasks.manifest import DatasetRef

    sign, verify = load_signing_key(keys[0]), load_verify_key(keys[1])
    write_dataset(LocalStore(tmp_path / "a"), make_reviews(20, seed=43), ColumnSpec(), sign, source={"kind": "test"}, dataset=DatasetRef("ds-a"))
    write_dataset(LocalStore(tmp_path / "b"), make_reviews(20, seed=44), ColumnSpec(), sign, source={"kind": "test"}, dataset=DatasetRef("ds-b"))
    shutil.copytree(tmp_path / "a", tmp_path / "b" / "sub")
    assert load_verified(LocalStore(tmp_path / "b" / "sub"), verify).code == "ok"
    (tmp_path / "b" / MANIFEST_KEY).write_text("not a manifest")
    assert load_verified(LocalStore(tmp_path / "b" / "sub"), verify).code == "ok"
    shutil.copytree(tmp_path / "a", tmp_path / "a" / "sub", ignore=shutil.ignore_patterns("sub"))
    rep = load_verified(LocalStore(tmp_path / "a" / "sub"), verify)
    assert (rep.code, rep.detail) == ("wrong-dataset", "the manifest of dataset ds-a's root sits in its subfolder 'sub'")


def test_a_folder_source_whose_name_ends_in_x_is_checked(tmp_path, keys):
    """Only slashes are stripped from the end of a source: ``lakeX`` is not ``lake``."""
    from labelguard.tasks.dataset import signed_source_problem

    store = LocalStore(tmp_path / "lakeX")
    _edited_lake(store, keys, ["part-0.parquet"])
    location, rep = signed_source_problem(str(tmp_path / "lakeX"), load_verify_key(keys[1]))
    assert (location, rep.code, rep.suspect_ids) == (store.uri, "digest-mismatch", ["rev-0000000"])


# --- write_dataset, load_verified and _identity_problem (the fourteenth session's survivors) ---------------------


def test_a_written_part_signs_its_objects_by_key_digest_size_and_rows_at_a_utc_second(tmp_path, keys):
    """The manifest ``write_dataset`` signs lists the data object and the row sidecar with the SHA-256 and the size of
    the bytes stored, and is dated in UTC to the second (the ledger and ``verify``'s audit line read this time)."""
    import re
    from datetime import datetime, timezone

    store = LocalStore(tmp_path / "ds")
    start = datetime.now(timezone.utc).replace(microsecond=0)
    manifest = write_dataset(store, make_reviews(30, seed=51), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    end = datetime.now(timezone.utc)
    data, rows = store.get(DATA_KEY), store.get("rows.parquet")
    assert manifest.payload["objects"] == [{"key": DATA_KEY, "sha256": _sha(data), "bytes": len(data), "version_id": None, "rows": 30}]
    assert manifest.payload["rows_sidecar"] == {"key": "rows.parquet", "sha256": _sha(rows), "bytes": len(rows), "version_id": None}
    created = manifest.payload["created_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", created), created
    assert start <= datetime.fromisoformat(created) <= end
    assert read_manifest(store).payload == manifest.payload


def test_a_root_manifest_in_a_subfolder_whose_name_ends_in_x_or_a_space_is_wrong_dataset(tmp_path, keys):
    """Only slashes are stripped from the end of the folder's location: a copy of the root in ``copyX`` or ``copy ``
    (a trailing space) below its own root is found, named as it is."""
    import shutil

    from labelguard.tasks.manifest import DatasetRef

    write_dataset(LocalStore(tmp_path / "a"), make_reviews(20, seed=45), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"},
                  dataset=DatasetRef("ds-x"))
    for name in ("copyX", "copy "):
        shutil.copytree(tmp_path / "a", tmp_path / "a" / name, ignore=shutil.ignore_patterns("copy*"))
        rep = load_verified(LocalStore(tmp_path / "a" / name), load_verify_key(keys[1]))
        assert (rep.code, rep.detail) == ("wrong-dataset", f"the manifest of dataset ds-x's root sits in its subfolder {name!r}")
        assert rep.manifest.payload == read_manifest(LocalStore(tmp_path / "a")).payload and rep.frame is None


def test_a_dataset_at_a_relative_folder_verifies(tmp_path, keys, monkeypatch):
    """``--dest ds`` and ``--source ds``: a location with no slash in it (its only segment is its name)."""
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    manifest = write_dataset(LocalStore(Path("ds")), make_reviews(20, seed=46), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    rep = load_verified(LocalStore(Path("ds")), load_verify_key(keys[1]))
    ds = manifest.payload["dataset"]["id"]
    assert (rep.code, rep.detail, len(rep.frame)) == ("ok", f"signature, identity ({ds}, data), version, SHA-256 and 20 rows verified", 20)


def test_a_dataset_at_the_root_of_a_bucket_verifies(s3_endpoint, keys):
    """``s3://bucket`` with no prefix: there is no folder above the root to look for a copied manifest in."""
    import uuid

    store = _s3(f"s3://lg-root-{uuid.uuid4().hex[:12]}")
    manifest = write_dataset(store, make_reviews(20, seed=47), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.manifest.payload, len(rep.frame)) == ("ok", manifest.payload, 20)


def test_a_manifest_signed_by_another_key_says_both_key_ids_and_decodes_only_the_asked_columns(tmp_path, keys, other_keys):
    """The manifest re-signed by another key, the sidecar still signed by the trusted one: ``unknown-key`` names both
    key ids, and the rows read through the sidecar hold only the asked columns."""
    from labelguard.tasks.dataset import MANIFEST_KEY
    from labelguard.tasks.manifest import key_id, sign_manifest

    store = LocalStore(tmp_path / "ds")
    signed = write_dataset(store, make_reviews(20, seed=48), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    forged = sign_manifest(signed.payload, load_signing_key(other_keys[0]))
    store.put(MANIFEST_KEY, forged.to_bytes(), create_only=False)
    verify = load_verify_key(keys[1])
    rep = load_verified(store, verify, columns=["review_id", "label"])
    assert (rep.code, rep.detail) == ("unknown-key", f"manifest signed by key {key_id(load_verify_key(other_keys[1]))}, not the trusted key "
                                                     f"{key_id(verify)}; 0 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    assert list(rep.frame.columns) == ["review_id", "label"] and len(rep.frame) == 20


def test_a_manifest_of_another_format_is_bad_manifest_even_with_a_dataset_identity(tmp_path, keys):
    """Signed by the trusted key but in another ``format`` (another labelguard wrote it), identity and objects intact:
    ``bad-manifest``, the manifest kept in the report, nothing decoded."""
    from labelguard.tasks.dataset import MANIFEST_KEY
    from labelguard.tasks.manifest import sign_manifest

    store = LocalStore(tmp_path / "ds")
    signed = write_dataset(store, make_reviews(20, seed=49), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    payload = {**signed.payload, "format": "labelguard-manifest/1"}
    store.put(MANIFEST_KEY, sign_manifest(payload, load_signing_key(keys[0])).to_bytes(), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("bad-manifest", "manifest format 'labelguard-manifest/1' is not labelguard-manifest/2: re-ingest with this labelguard")
    assert rep.manifest.payload == payload and rep.frame is None


def test_parquet_added_under_a_name_readers_skip_is_unlisted_by_its_suffix(tmp_path, keys):
    """``_temporary/0/part-1.parquet`` and ``.late.pq`` added after the seal: Spark and pandas skip such names, so only
    their ``.parquet``/``.pq`` suffix (any case) makes them unlisted objects; glob readers read them, and seal refuses
    to leave them out (``_refuse_hidden_parquet``), so verify reports them, their rows named as added."""
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(30, seed=52)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    store.put("_temporary/0/part-1.PARQUET", to_parquet_bytes(frame.iloc[10:20].reset_index(drop=True)))
    store.put(".late.pq", to_parquet_bytes(frame.iloc[20:].reset_index(drop=True)))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("unlisted-object", "2 Parquet object(s) under the dataset that the signed manifest does not list: .late.pq, "
                                      "_temporary/0/part-1.PARQUET; 0 label(s) changed, 0 row(s) otherwise edited, 20 added, 0 missing")
    assert rep.suspect_ids == frame.review_id.tolist()[10:]


# --- seal_dataset (the fourteenth session's run 8) ----------------------------------------------------------------


def test_sealing_a_folder_without_a_scope_refuses_parquet_readers_skip_and_writes_nothing(tmp_path, keys):
    """No ``scope`` means the folder is the dataset (``prefix``): Parquet under a name Spark and pandas skip cannot be left
    out of the seal, so it is refused word for word, nothing written; a ``files`` scope claims nothing about the rest."""
    from labelguard.errors import BadInput

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(20, seed=53)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    store.put("_temporary/0/part-1.parquet", to_parquet_bytes(frame.iloc[10:].reset_index(drop=True)))
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    assert (err.value.problem, err.value.fix) == (
        f"1 Parquet object(s) under {store.uri} have names Spark and pandas skip (_temporary/0/part-1.parquet) but glob readers read and "
        "verify checks, so they cannot be left out of the seal",
        "remove them (an unfinished job's output under _temporary/, say) or rename them without the leading '_' or '.', then seal again")
    assert sorted(store.list()) == ["_temporary/0/part-1.parquet", "part-0.parquet"]
    manifest = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"], scope={"kind": "files"})
    assert [o["key"] for o in manifest.payload["objects"]] == ["part-0.parquet"]


def test_a_second_seal_signs_the_parts_added_since_as_the_next_version(tmp_path, keys):
    """Re-sealing a lake takes its listed parts that are still there and the unlisted ones added since: version 2
    lists both parts and all their rows, and verifies."""
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(30, seed=54)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    first = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    store.put("part-1.parquet", to_parquet_bytes(frame.iloc[10:].reset_index(drop=True)))
    second = seal_dataset(store, load_signing_key(keys[0]))
    assert second.payload["dataset"] == {**first.payload["dataset"], "version": 2}
    assert [(o["key"], o["rows"]) for o in second.payload["objects"]] == [("part-0.parquet", 10), ("part-1.parquet", 20)]
    assert (second.payload["rows"], load_verified(store, load_verify_key(keys[1])).code) == (30, "ok")


def test_a_sealed_lake_is_a_new_dataset_named_after_its_folder_in_the_role_asked(tmp_path, keys):
    """Without ``dataset_id`` the id is the folder's name and 12 hex digits, in the ``role`` given (not always data);
    without ``scope`` the whole folder is signed as the dataset."""
    import re

    store = LocalStore(tmp_path / "Sales 2026")
    store.put("part-0.parquet", to_parquet_bytes(make_reviews(10, seed=55)))
    manifest = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), role="holdout")
    ds = manifest.payload["dataset"]
    assert re.fullmatch(r"sales-2026-[0-9a-f]{12}", ds["id"]), ds
    assert (ds["role"], ds["part"], ds["version"]) == ("holdout", "", 1)
    assert manifest.payload["scope"] == {"kind": "prefix"}  # no scope asked, none signed before: the folder is the dataset


def test_sealing_a_named_object_that_is_not_there_names_it_and_writes_nothing(tmp_path, keys):
    from labelguard.errors import DatasetMissing

    store = LocalStore(tmp_path / "lake")
    store.put("part-0.parquet", to_parquet_bytes(make_reviews(10, seed=56)))
    with pytest.raises(DatasetMissing) as err:
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet", "part-1.parquet"])
    assert (err.value.problem, err.value.fix) == (f"object part-1.parquet is gone from {store.uri}", "restore it, or seal what is there")
    assert store.list() == ["part-0.parquet"]


def test_a_rotation_re_signs_an_unchanged_part_and_refuses_a_changed_one(tmp_path, keys, other_keys):
    """``rotated_from``: the same objects signed again by the new key as the next version, the old key recorded; an
    object edited since the old signature is refused word for word, nothing re-signed."""
    from labelguard.errors import BadInput
    from labelguard.tasks.manifest import key_id

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(20, seed=57)
    store.put("part-0.parquet", to_parquet_bytes(frame))
    first = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    old = key_id(load_verify_key(keys[1]))
    rotated = seal_dataset(store, load_signing_key(other_keys[0]), rotated_from=old)
    assert (rotated.key_id, rotated.payload["dataset"]["version"]) == (key_id(load_verify_key(other_keys[1])), 2)
    assert rotated.payload["source"] == {"kind": "sealed", "previous_version": 1, "rotated_from": old}
    assert rotated.payload["objects"] == first.payload["objects"]
    store.put("part-0.parquet", to_parquet_bytes(_flipped(frame, 3)), create_only=False)
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]), rotated_from=key_id(load_verify_key(other_keys[1])))
    assert (err.value.problem, err.value.fix) == (f"objects at {store.uri} changed while it was being rotated: not re-signed", "verify it again, then rotate")
    assert read_manifest(store).payload == rotated.payload


def test_a_sealed_lake_signs_its_sidecar_source_scope_and_time_and_a_second_seal_keeps_the_scope(tmp_path, keys):
    """The manifest of a sealed lake: the ``_rows.parquet`` sidecar by key, digest and size, ``source`` sealed with no
    previous version, the scope asked for, a UTC time to the second; re-sealed without a scope after a part is
    added, the signed scope is kept and the previous version named; sealed again unchanged, nothing is signed."""
    import re

    from labelguard.tasks.dataset import NothingToSeal

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(20, seed=58)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    first = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"], scope={"kind": "glob", "pattern": "*.parquet"})
    rows = store.get("_rows.parquet")
    assert first.payload["rows_sidecar"] == {"key": "_rows.parquet", "sha256": _sha(rows), "bytes": len(rows), "version_id": None}
    assert (first.payload["source"], first.payload["scope"]) == ({"kind": "sealed", "previous_version": None}, {"kind": "glob", "pattern": "*.parquet"})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", first.payload["created_at"])
    store.put("part-1.parquet", to_parquet_bytes(frame.iloc[10:].reset_index(drop=True)))
    second = seal_dataset(store, load_signing_key(keys[0]))
    assert (second.payload["source"], second.payload["scope"]) == ({"kind": "sealed", "previous_version": 1}, {"kind": "glob", "pattern": "*.parquet"})
    with pytest.raises(NothingToSeal) as err:
        seal_dataset(store, load_signing_key(keys[0]))
    ds = second.payload["dataset"]["id"]
    assert (err.value.problem, err.value.fix) == (f"nothing changed since version 2 of {ds}: not re-signed", "seal again after an approved change")
    assert read_manifest(store).payload == second.payload


# --- _schema_diff and record (the fourteenth session's run 9) -------------------------------------------------------


def test_a_schema_difference_names_each_column_either_side_lacks_or_types_otherwise():
    """What ``seal`` says when a part has another schema: every column of either side that differs, ``absent`` where a
    side lacks it, ``not null`` where a side forbids nulls; only a repeated name when nothing else differs."""
    import pyarrow as pa

    from labelguard.tasks.dataset import _schema_diff

    a = pa.schema([pa.field("id", pa.string()), pa.field("x", pa.int64(), nullable=False), pa.field("z", pa.string())])
    b = pa.schema([pa.field("id", pa.string()), pa.field("x", pa.int64()), pa.field("y", pa.float64())])
    assert _schema_diff(a, b) == "x: int64 not null vs int64; y: absent vs double; z: string vs absent"
    assert _schema_diff(pa.schema([("id", pa.string()), ("id", pa.string())]), pa.schema([("id", pa.string())])) == "a column name repeated"


def test_a_written_dataset_is_recorded_in_the_ledger_with_its_role_and_time(tmp_path, keys):
    from labelguard.tasks.ledger import Ledger, LedgerEntry, manifest_digest, normalize_uri

    ledger = Ledger(tmp_path / "ledger.jsonl")
    store = LocalStore(tmp_path / "ds")
    manifest = write_dataset(store, make_reviews(10, seed=59), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"}, ledger=ledger)
    ds = manifest.payload["dataset"]
    assert ledger.entries(load_verify_key(keys[1])) == [
        LedgerEntry(ds["id"], "", "data", 1, manifest_digest(manifest), normalize_uri(store.uri), manifest.payload["created_at"])]


def test_hidden_parquet_inside_a_sealed_subfolder_is_its_own_not_refused_by_the_lake_above(tmp_path, keys):
    """``sub/inner`` sealed on its own (``_manifest.json``) owns what lies below it, hidden or not; a hidden ``.pq`` in
    ``sub/`` itself belongs to the lake and is refused, named alone; once it is gone the lake seals."""
    from labelguard.errors import BadInput

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(30, seed=60)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    inner = LocalStore(tmp_path / "lake" / "sub" / "inner")
    inner.put("p.parquet", to_parquet_bytes(frame.iloc[10:20].reset_index(drop=True)))
    seal_dataset(inner, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["p.parquet"])
    store.put("sub/inner/_temporary/0/x.parquet", to_parquet_bytes(frame.iloc[20:25].reset_index(drop=True)))
    store.put("sub/.late.pq", to_parquet_bytes(frame.iloc[25:].reset_index(drop=True)))
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    assert err.value.problem == (f"1 Parquet object(s) under {store.uri} have names Spark and pandas skip (sub/.late.pq) but glob readers read "
                                 "and verify checks, so they cannot be left out of the seal")
    assert store.head("_manifest.json") is None
    store.delete("sub/.late.pq")
    manifest = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    assert [o["key"] for o in manifest.payload["objects"]] == ["part-0.parquet"]


def test_a_refusal_of_hidden_parquet_names_two_and_marks_more(tmp_path, keys):
    """Two hidden objects are both named; a third is counted and left as "…"."""
    from labelguard.errors import BadInput

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(10, seed=61)
    store.put("part-0.parquet", to_parquet_bytes(frame))
    tail = "but glob readers read and verify checks, so they cannot be left out of the seal"
    store.put("_a.parquet", to_parquet_bytes(frame))
    for name, count, named in (("_b.parquet", 2, "_a.parquet, _b.parquet"), ("_c.parquet", 3, "_a.parquet, _b.parquet, …")):
        store.put(name, to_parquet_bytes(frame))
        with pytest.raises(BadInput) as err:
            seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
        assert err.value.problem == f"{count} Parquet object(s) under {store.uri} have names Spark and pandas skip ({named}) {tail}"


def test_a_trusted_manifest_in_this_format_without_a_dataset_entry_is_bad_manifest_and_kept(tmp_path, keys):
    """load_verified 63-67 (seventeenth session's fresh-clone run): the 'names no dataset' report's code, detail and
    manifest were tested only outside dataset's selection (tests/test_fix_lead_s27.py), and its manifest not at all."""
    from labelguard.tasks.dataset import FORMAT, MANIFEST_KEY
    from labelguard.tasks.manifest import sign_manifest

    store = LocalStore(tmp_path / "ds")
    signed = write_dataset(store, make_reviews(20, seed=49), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    edited = sign_manifest({k: v for k, v in signed.payload.items() if k != "dataset"}, load_signing_key(keys[0]))
    store.put(MANIFEST_KEY, edited.to_bytes(), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("bad-manifest", f"manifest in format {FORMAT} names no dataset (no 'dataset' entry): re-ingest with this labelguard")
    assert rep.manifest is not None and rep.manifest.to_bytes() == edited.to_bytes()


def test_a_dataset_the_ledger_recorded_and_that_is_gone_is_object_missing_and_one_it_never_saw_is_missing(tmp_path, keys):
    """load_verified 7-9, 14-19 and gone_by_ledger 2-6 (eighteenth session's fresh-clone run): the ledger branch of a
    dataset removed wholesale (break-it r15 F5) was tested only through the CLI, outside dataset's selection. With the
    ledger that signed it: ``object-missing``, naming what the ledger recorded there; without a ledger, or at a location
    it never recorded, nothing tells a deletion from a typo: DatasetMissing."""
    import shutil

    from labelguard.errors import DatasetMissing
    from labelguard.tasks.ledger import Ledger

    ledger = Ledger(tmp_path / "ledger.jsonl")
    manifest = write_dataset(LocalStore(tmp_path / "ds"), make_reviews(10, seed=61), ColumnSpec(), load_signing_key(keys[0]),
                             source={"kind": "test"}, ledger=ledger)
    shutil.rmtree(tmp_path / "ds")
    rep = load_verified(LocalStore(tmp_path / "ds"), load_verify_key(keys[1]), ledger=ledger)
    ds = manifest.payload["dataset"]
    assert (rep.code, rep.detail) == ("object-missing", f"the ledger records data of dataset {ds['id']} (version 1, signed "
                                      f"{manifest.payload['created_at']}) at {(tmp_path / 'ds').resolve()}, and its manifest and every object are gone")
    assert (rep.manifest, rep.observed, rep.suspect_ids) == (None, {}, None)
    with pytest.raises(DatasetMissing):
        load_verified(LocalStore(tmp_path / "ds"), load_verify_key(keys[1]))
    with pytest.raises(DatasetMissing):
        load_verified(LocalStore(tmp_path / "elsewhere"), load_verify_key(keys[1]), ledger=ledger)


def _delta_log(store, version: int, *actions):
    """One commit of a Delta table's log at ``store`` (``{"add": path}`` / ``{"remove": path}`` as Delta writes them)."""
    lines = [{"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}, {"metaData": {"id": "t", "format": {"provider": "parquet"}, "partitionColumns": []}}] if version == 0 else []
    for kind, path in actions:
        lines.append({kind: {"path": path, "dataChange": True, **({"partitionValues": {}, "size": len(store.get(path))} if kind == "add" else {})}})
    store.child("_delta_log").put(f"{version:020d}.json", ("\n".join(__import__("json").dumps(a) for a in lines) + "\n").encode())


def test_a_part_a_delta_delete_removed_after_the_seal_is_object_missing_and_its_rows_missing(tmp_path, keys):
    """_verify_objects 4-8, 24-31 (eighteenth session's fresh-clone run): the Delta log's check (break-it r14 F3) was
    tested only through the CLI, outside dataset's selection. A sealed Delta table of two parts whose log then removes the
    first: that part is object-missing word for word, its 20 rows missing, and the second part still read (a ``break``
    would stop there); with the log holding both the table verifies."""
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(50, seed=21)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:20].reset_index(drop=True)))
    store.put("part-1.parquet", to_parquet_bytes(frame.iloc[20:].reset_index(drop=True)))
    _delta_log(store, 0, ("add", "part-0.parquet"), ("add", "part-1.parquet"))
    sealed = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet", "part-1.parquet"])
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("ok", f"signature, identity ({sealed.payload['dataset']['id']}, data), version, SHA-256 and 50 rows verified")
    _delta_log(store, 1, ("remove", "part-0.parquet"))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "object-missing"
    assert rep.detail == ("data object part-0.parquet is removed by the Delta table's log: readers of the table no longer take its rows; "
                          "0 label(s) changed, 0 row(s) otherwise edited, 0 added, 20 missing")
    assert rep.observed == {"objects": [{"key": "part-1.parquet", "sha256": _sha(store.get("part-1.parquet")), "version_id": None, "rows": 30}], "rows": 30}


def test_the_only_part_rewritten_under_two_new_names_is_gone_and_unlisted_and_its_rows_are_read_from_them(tmp_path, keys):
    """_verify_objects 138, 169, 196, 197 (eighteenth session's fresh-clone run): every listed part gone and Parquet objects
    the manifest does not list (break-it r11 F2: a part rewritten under new names, even the only one): the gone part and
    the unlisted ones are all reported, and the rows are read from both new names (a ``break`` after the first would
    count 10 missing), none changed."""
    store = LocalStore(tmp_path / "lake")
    frame = _lake(store, keys, sizes=(20,))
    store.put("renamed-a.parquet", to_parquet_bytes(frame.iloc[:10].reset_index(drop=True)))
    store.put("renamed-b.parquet", to_parquet_bytes(frame.iloc[10:].reset_index(drop=True)))
    store.delete("part-0.parquet")
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("object-missing", "data object part-0.parquet is gone; and unlisted-object: 2 Parquet object(s) under the dataset "
                                      "that the signed manifest does not list: renamed-a.parquet, renamed-b.parquet; 0 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    assert (rep.observed, rep.suspect_ids) == ({"objects": [], "rows": 20}, [])


def test_an_unreadable_only_part_beside_an_unlisted_one_is_not_localized_from_the_other(tmp_path, keys):
    """_verify_objects 131: the only listed part overwritten with bytes that are not Parquet, and a readable Parquet object
    the manifest does not list: the digest mismatch is reported and nothing is localized (no listed object decodes)."""
    store = LocalStore(tmp_path / "lake")
    _lake(store, keys, sizes=(20,))
    signed = store.get("part-0.parquet")
    store.put("other.parquet", signed)
    store.put("part-0.parquet", b"not parquet", create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("digest-mismatch", f"part-0.parquet: SHA-256 {_sha(b'not parquet')[:12]}… differs from signed {_sha(signed)[:12]}… "
                                      "and the object is not readable Parquet; no object readable: cannot localize")
    assert (rep.observed, rep.suspect_ids) == ({"objects": [{"key": "part-0.parquet", "sha256": _sha(b"not parquet"), "version_id": None, "rows": None}]}, None)


def test_unlisted_rows_with_ids_stored_dictionary_encoded_are_named_as_added(tmp_path, keys):
    """_verify_objects 211-213 (eighteenth session's fresh-clone run): an unlisted object whose id column is dictionary
    encoded (as Spark writes strings) beside the listed parts' plain strings: pyarrow will not concatenate them as they
    are, so both are decoded first; its 5 rows are named as added, none refused or lost."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    store = LocalStore(tmp_path / "lake")
    _lake(store, keys, sizes=(20, 30))
    extra = pa.Table.from_pandas(make_reviews(5, seed=77), preserve_index=False).drop_columns(["review_id"])
    extra = extra.append_column("review_id", pa.array([f"new-{i}" for i in range(5)]).dictionary_encode())
    sink = io.BytesIO()
    pq.write_table(extra, sink)
    store.put("extra.parquet", sink.getvalue())
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("unlisted-object", "1 Parquet object(s) under the dataset that the signed manifest does not list: extra.parquet; "
                                      "0 label(s) changed, 0 row(s) otherwise edited, 5 added, 0 missing")
    assert (rep.observed["rows"], rep.suspect_ids) == (55, ["new-0", "new-1", "new-2", "new-3", "new-4"])


def test_an_unlisted_object_that_is_not_parquet_is_named_and_its_rows_are_not(tmp_path, keys):
    """_verify_objects 220-224 (eighteenth session's fresh-clone run): an unlisted ``.parquet`` object that does not decode
    beside intact parts: it is named, with the note that its rows cannot be, and no row is localized."""
    store = LocalStore(tmp_path / "lake")
    _lake(store, keys, sizes=(20, 30))
    store.put("junk.parquet", b"not parquet")
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("unlisted-object", "1 Parquet object(s) under the dataset that the signed manifest does not list: junk.parquet "
                                      "(1 of them unreadable or of another schema: their rows are not named); 0 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    assert (rep.observed["rows"], rep.suspect_ids) == (50, [])


def test_every_part_gone_beside_an_unlisted_object_that_is_not_parquet_names_them_and_no_rows(tmp_path, keys):
    """_verify_objects 322-336 (eighteenth session's fresh-clone run): both listed parts gone and the only unlisted object
    not Parquet: no rows to name, the report says the first part, counts the second and names the unlisted object (the
    last failure, not the second), and keeps the manifest and what was observed (nothing)."""
    store = LocalStore(tmp_path / "lake")
    _lake(store, keys, sizes=(20, 30))
    store.delete("part-0.parquet")
    store.delete("part-1.parquet")
    store.put("junk.parquet", b"not parquet")
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("object-missing", "data object part-0.parquet is gone (+1 more object(s)); and unlisted-object: 1 Parquet object(s) under the dataset that "
                                      "the signed manifest does not list: junk.parquet (1 of them unreadable or of another schema: their rows are not named)")
    assert (rep.data, rep.observed, rep.suspect_ids) == (None, {"objects": []}, None)
    assert rep.manifest.payload == read_manifest(store).payload


# --- seal_dataset and write_dataset: the nineteenth session's fresh-clone run of dataset parts 4-6 -----------------


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_reseal_of_parts_that_lost_both_signed_columns_names_them_and_what_to_move_and_writes_nothing(tmp_path, keys):
    """seal_dataset 154, 158-192 (nineteenth session's fresh-clone run): the refusal of a re-seal whose parts lost the
    signed id and label columns was tested only through the CLI (tests/test_fix_lead_s27.py), outside dataset's
    selection. A lake sealed in place, its only part rewritten with both columns renamed: one BadInput naming both
    columns, the version the lake was keyed by, the columns it has, and the lake's own ``_``-prefixed objects to move;
    nothing written (a re-seal that went on failed with a KeyError)."""
    import pandas as pd

    from labelguard.errors import BadInput

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(20, seed=61)
    store.put("part-0.parquet", to_parquet_bytes(frame))
    first = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    store.put("part-0.parquet", to_parquet_bytes(frame.rename(columns={"review_id": "id", "label": "y"})), create_only=False)
    before = _files(tmp_path / "lake")
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]))
    have = ", ".join(map(repr, pd.read_parquet(tmp_path / "lake" / "part-0.parquet").columns))
    assert "'id', 'y'" in have  # both renamed columns are among those named
    assert err.value.problem == (f"the parts at {store.uri} have no column 'review_id' or 'label', which version 1 of dataset "
                                 f"{first.payload['dataset']['id']} is keyed by (they have: {have})")
    assert err.value.fix == (f"restore the column in the parts, or sign them as a new dataset: move {store.uri}'s _manifest.json, "
                             "_rows.parquet and _rows.sig.json away, then seal with --id-col and --label-col")
    assert _files(tmp_path / "lake") == before


def _delta_table_of(store, frame, *splits):
    """``frame`` as parts part-0.parquet, ... cut at ``splits``, all added by the Delta log's first commit."""
    names, lo = [], 0
    for i, hi in enumerate((*splits, len(frame))):
        names.append(f"part-{i}.parquet")
        store.put(names[-1], to_parquet_bytes(frame.iloc[lo:hi].reset_index(drop=True)))
        lo = hi
    _delta_log(store, 0, *(("add", n) for n in names))
    return names


_DELTA_SEAL = ("{problem}: {uri} is a Delta table, and its folder keeps the Parquet files of earlier versions (an UPDATE, DELETE or "
               "OPTIMIZE rewrites parts; the log marks the old ones removed, readers of the table skip them, seal reads every part)",
               "seal a copy of the table's current version (written out as Parquet, e.g. with Spark or the deltalake package), or VACUUM "
               "the table so that only its current files remain, then seal again")


def test_sealing_a_delta_table_whose_log_removed_a_whole_file_is_refused_as_seal_and_writes_nothing(tmp_path, keys):
    """seal_dataset 210, 214, 215 (nineteenth session's fresh-clone run): the refusal of a Delta table's removed file
    (break-it r14 F3) was tested only through the CLI, outside dataset's selection. A DELETE of the first of two whole
    files repeats no id; seal names the file and says what ``seal`` reads and how to seal again, word for word."""
    from labelguard.errors import BadInput

    store = LocalStore(tmp_path / "lake")
    names = _delta_table_of(store, make_reviews(50, seed=62), 20)
    _delta_log(store, 1, ("remove", names[0]))
    before = _files(tmp_path / "lake")
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=names)
    problem = "1 Parquet file(s) here are removed by the table's log (part-0.parquet)"
    assert (err.value.problem, err.value.fix) == (_DELTA_SEAL[0].format(problem=problem, uri=store.uri), _DELTA_SEAL[1])
    assert _files(tmp_path / "lake") == before


def test_sealing_a_delta_table_holding_a_rewritten_file_and_its_old_copy_says_so_as_seal(tmp_path, keys):
    """seal_dataset 199, 201, 205, 206 (nineteenth session's fresh-clone run): an UPDATE rewrote the first file (the
    log removes it and adds its rewrite), so its ids are in both; the repeated-id refusal is said as what it is, for
    ``seal``, with the repeated-id problem kept in front, word for word; nothing written."""
    from labelguard.errors import BadInput

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(50, seed=63)
    names = _delta_table_of(store, frame, 20)
    store.put("part-0b.parquet", to_parquet_bytes(_flipped(frame.iloc[:20].reset_index(drop=True), 3)))
    _delta_log(store, 1, ("remove", "part-0.parquet"), ("add", "part-0b.parquet"))
    before = _files(tmp_path / "lake")
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=[names[0], "part-0b.parquet", names[1]])
    problem = "id 'rev-0000000' is in both part-0.parquet and part-0b.parquet (20 repeated id(s) in 70 rows)"
    assert (err.value.problem, err.value.fix) == (_DELTA_SEAL[0].format(problem=problem, uri=store.uri), _DELTA_SEAL[1])
    assert _files(tmp_path / "lake") == before


def _tree(folder):
    """Every file and folder under ``folder`` (relative, folders with a trailing '/')."""
    return sorted(p.relative_to(folder).as_posix() + ("/" if p.is_dir() else "") for p in folder.rglob("*"))


def test_a_failure_inside_a_dataset_write_removes_every_part_added_and_the_folders_it_made(tmp_path, keys):
    """remove_part 1-4, 6, DatasetWrite.add 1, _local_folders 4 (nineteenth session's fresh-clone run: remove_part and
    DatasetWrite.add had no test in dataset's selection). Two parts written into a
    root that did not exist (the second with another data key), then a failure: the failure itself comes out, both
    parts' objects are gone, and so are the parts' folders, the root and the root's parent the write created."""
    from labelguard.tasks.dataset import writing_dataset

    root = LocalStore(tmp_path / "out" / "ds")
    frame = make_reviews(30, seed=64)
    with pytest.raises(RuntimeError, match="^the holdout failed$"):
        with writing_dataset(root) as batch:
            train, holdout = root.child("train"), root.child("holdout")
            first = write_dataset(train, frame.iloc[:20].reset_index(drop=True), ColumnSpec(), load_signing_key(keys[0]), source={})
            assert batch.add(train, first) is first
            second = write_dataset(holdout, frame.iloc[20:].reset_index(drop=True), ColumnSpec(), load_signing_key(keys[0]), source={},
                                   data_key="part-0.parquet")
            batch.add(holdout, second, "part-0.parquet")
            assert _tree(tmp_path) == ["out/", "out/ds/", "out/ds/holdout/", "out/ds/holdout/manifest.json", "out/ds/holdout/part-0.parquet",
                                       "out/ds/holdout/rows.parquet", "out/ds/holdout/rows.sig.json", "out/ds/train/", "out/ds/train/data.parquet",
                                       "out/ds/train/manifest.json", "out/ds/train/rows.parquet", "out/ds/train/rows.sig.json"]
            raise RuntimeError("the holdout failed")
    assert _tree(tmp_path) == []


def test_a_failed_dataset_write_into_a_folder_that_was_there_keeps_what_was_there(tmp_path, keys):
    """remove_part 1-4, 6, DatasetWrite.add 1 (nineteenth session's fresh-clone run): a root that exists is listed before
    the write; the folders it held (an empty one too) and its files stay, only the part's folder the write made goes."""
    from labelguard.tasks.dataset import writing_dataset

    (tmp_path / "lake" / "old" / "empty").mkdir(parents=True)
    (tmp_path / "lake" / "notes.txt").write_text("kept")
    root = LocalStore(tmp_path / "lake")
    with pytest.raises(KeyboardInterrupt):
        with writing_dataset(root) as batch:
            part = root.child("date=1")
            batch.add(part, write_dataset(part, make_reviews(10, seed=65), ColumnSpec(), load_signing_key(keys[0]), source={}))
            raise KeyboardInterrupt
    assert _tree(tmp_path) == ["lake/", "lake/notes.txt", "lake/old/", "lake/old/empty/"]


def test_a_failed_dataset_write_into_an_empty_folder_that_was_there_keeps_the_folder(tmp_path, keys):
    """_remove_new_folders 13 (nineteenth session's fresh-clone run; ``rglob(None)`` lists the root itself on Python
    3.11): the root existed, empty, before the write, so it is not the write's to remove."""
    from labelguard.tasks.dataset import writing_dataset

    (tmp_path / "empty").mkdir()
    root = LocalStore(tmp_path / "empty")
    with pytest.raises(RuntimeError):
        with writing_dataset(root) as batch:
            batch.add(root, write_dataset(root, make_reviews(10, seed=73), ColumnSpec(), load_signing_key(keys[0]), source={}))
            raise RuntimeError("the ledger failed")
    assert _tree(tmp_path) == ["empty/"]


def test_a_failed_dataset_write_on_s3_removes_the_versions_it_wrote(s3_uri, keys):
    """remove_part 5, 7 (nineteenth session's fresh-clone run): on a versioned bucket a part is removed by its exact
    versions; a delete without the version id only hides the objects behind delete markers, their bytes kept."""
    from labelguard.tasks.dataset import writing_dataset

    root = _s3(s3_uri)
    prefix = s3_uri.split("/", 3)[3] + "/"
    with pytest.raises(RuntimeError):
        with writing_dataset(root) as batch:
            part = root.child("train")
            batch.add(part, write_dataset(part, make_reviews(10, seed=66), ColumnSpec(), load_signing_key(keys[0]), source={}))
            listed = root.client.list_object_versions(Bucket=root.bucket, Prefix=prefix)
            assert sorted(v["Key"] for v in listed.get("Versions", [])) == [prefix + f"train/{k}" for k in
                                                                          ("data.parquet", "manifest.json", "rows.parquet", "rows.sig.json")]
            raise RuntimeError("later part failed")
    listed = root.client.list_object_versions(Bucket=root.bucket, Prefix=prefix)
    assert (listed.get("Versions", []), listed.get("DeleteMarkers", [])) == ([], [])


# --- sort_ids, same_columns, seal_changes ---------------------------------------------------------------------------


def test_ids_sort_numbers_first_by_value_then_text_then_other_values_by_their_text():
    """_id_order 2-5, 7, 10, 14-18, 22, 23 (nineteenth session's fresh-clone run; sort_ids's docstring order): numbers
    kept as text among numbers by value, before other text; numpy integers as numbers, not as text ('10' < '9');
    a number and its float spelling tied by value, then by text; a bool and NaN are not numbers: after every number,
    ordered with the text by their own text."""
    import numpy as np

    from labelguard.tasks.dataset import sort_ids

    assert sort_ids(["b", "10", "a", "9", "007"]) == ["007", "9", "10", "a", "b"]
    assert sort_ids(list(np.array([10, 9, 100], dtype=np.int64))) == [9, 10, 100]
    assert [repr(v) for v in sort_ids([1.0, 1, "0.5"])] == ["'0.5'", "1", "1.0"]
    assert sort_ids([True, 5, 0.5]) == [0.5, 5, True]
    assert [repr(v) for v in sort_ids(["z", float("nan"), "a", 2])] == ["2", "'a'", "nan", "'z'"]


def test_columns_are_the_same_across_storage_widths_and_encodings_but_not_across_kinds():
    """_kind 2, 9, 14, 20 and same_columns 8 (nineteenth session's fresh-clone run; break-it r15 F8's rule was tested
    only through the CLI): a dictionary-encoded column is its values' kind, string and large_string one kind, binary
    and large_binary one kind; other types by their own name (bool is not a date); with a column name repeated the
    schemas must be equal, their metadata (pandas' index, say) left out."""
    import pyarrow as pa

    from labelguard.tasks.dataset import same_columns

    def one(t):
        return pa.schema([("c", t)])

    assert same_columns(one(pa.dictionary(pa.int32(), pa.string())), one(pa.string()))
    assert not same_columns(one(pa.dictionary(pa.int32(), pa.string())), one(pa.int64()))
    assert same_columns(one(pa.string()), one(pa.large_string()))
    assert same_columns(one(pa.binary()), one(pa.large_binary()))
    assert not same_columns(one(pa.bool_()), one(pa.date32()))
    assert same_columns(one(pa.date32()), one(pa.date32()))
    twice = pa.schema([("c", pa.int64()), ("c", pa.int64())])
    assert same_columns(twice.with_metadata({"pandas": "a"}), twice.with_metadata({"pandas": "b"}))
    assert not same_columns(twice, pa.schema([("c", pa.int64()), ("c", pa.int32())]))


def test_what_a_reseal_approves_keeps_everything_after_the_first_objects_own_words(tmp_path, keys):
    """seal_changes 29, 30, 32 (left by the fourteenth session for want of a detail with two '; '): an edited part and
    a part added beside it make verify's detail "<edited part>; and unlisted-object: <added part>; <rows>"; the line
    seal prints drops only the first object's own words, keeping the added part and the rows."""
    from labelguard.tasks.dataset import seal_changes

    store = LocalStore(tmp_path / "lake")
    frame = _lake(store, keys, sizes=(20, 30), seed=67)
    store.put("part-1.parquet", to_parquet_bytes(_flipped(frame.iloc[20:].reset_index(drop=True), 4)), create_only=False)
    store.put("part-2.parquet", to_parquet_bytes(make_reviews(5, seed=68).assign(review_id=[f"new-{i}" for i in range(5)])))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.detail.count("; ") == 2, rep.detail
    assert seal_changes(store, load_verify_key(keys[1])) == (
        "approving digest-mismatch: and unlisted-object: 1 Parquet object(s) under the dataset that the signed manifest does not list: "
        "part-2.parquet; 1 label(s) changed, 0 row(s) otherwise edited, 5 added, 0 missing (rows new-0, new-1, new-2, new-3, new-4, rev-0000024)")


def test_parts_are_concatenated_as_stored_only_when_every_part_has_the_first_ones_schema():
    """concat_parts 9-11 (nineteenth session's fresh-clone run): a dictionary-encoded part beside plain strings, second
    or third, is decoded with them (a check from the second part on, or the third, missed the first or the second);
    parts of one schema whose metadata differs (pandas' metadata) keep their dictionary column."""
    import pyarrow as pa

    from labelguard.tasks.dataset import concat_parts

    coded = pa.table({"c": pa.array(["x", "y"]).dictionary_encode()})
    plain = pa.table({"c": pa.array(["z"])})
    for tables in ([coded, plain], [coded, plain, plain]):
        out = concat_parts(tables)
        assert (out.schema.field("c").type, out.column("c").to_pylist()) == (pa.string(), ["x", "y", "z"] + ["z"] * (len(tables) - 2))
    out = concat_parts([coded.replace_schema_metadata({"pandas": "a"}), coded.replace_schema_metadata({"pandas": "b"})])
    assert (out.schema.field("c").type, out.column("c").to_pylist()) == (pa.dictionary(pa.int32(), pa.string()), ["x", "y", "x", "y"])


def test_only_the_named_columns_are_decoded_from_parquet_bytes():
    """from_parquet_bytes 2, 4 (nineteenth session's fresh-clone run): the columns asked for, in that order."""
    from labelguard.tasks.dataset import from_parquet_bytes

    frame = make_reviews(5, seed=69)
    out = from_parquet_bytes(to_parquet_bytes(frame), ["label", "review_id"])
    assert list(out.columns) == ["label", "review_id"] and out["review_id"].tolist() == frame["review_id"].tolist()


def test_labelguards_own_objects_are_known_by_their_last_name_at_any_depth():
    """is_own_object 3, 7, 8 (nineteenth session's fresh-clone run): the manifest, sidecar and signature under either
    naming, two folders down too; a data object or a name that only contains one is not."""
    from labelguard.tasks.dataset import is_own_object

    assert all(is_own_object(k) for k in ("manifest.json", "_rows.parquet", "date=1/_manifest.json", "a/b/rows.sig.json", "a/b/_rows.sig.json"))
    assert not any(is_own_object(k) for k in ("part-0.parquet", "a/manifest.json.bak", "manifest.json/part-0.parquet", "a/b_rows.parquet"))


def test_parquet_that_does_not_decode_is_one_line_with_its_fix():
    """read_parquet_file 10-15 (nineteenth session's fresh-clone run): the problem names the data object and pyarrow's
    reason, the fix is to re-ingest."""
    from labelguard.errors import BadInput
    from labelguard.tasks.dataset import from_parquet_bytes

    with pytest.raises(BadInput) as err:
        from_parquet_bytes(b"not parquet")
    assert err.value.problem.startswith("data object is not readable Parquet: ") and len(err.value.problem) > 40, err.value.problem
    assert err.value.fix == "re-ingest the dataset"


def test_a_frame_is_written_without_its_index():
    """to_parquet_bytes 9, 11 (nineteenth session's fresh-clone run): a frame filtered to some rows (an index that is not
    a range) is written with its own columns only, no ``__index_level_0__``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = make_reviews(10, seed=70)
    kept = frame.iloc[[0, 1, 5, 7]]  # not a range (pandas keeps a boolean selection in steps a RangeIndex)
    assert pq.read_schema(pa.BufferReader(to_parquet_bytes(kept))).names == list(frame.columns)


def test_labelguards_own_names_are_the_prefixed_ones_only_in_a_lake_sealed_in_place(tmp_path, keys):
    """own_key 1 (nineteenth session's fresh-clone run): a store with neither manifest, and one labelguard wrote, get the
    plain name; a lake sealed in place the ``_``-prefixed one."""
    from labelguard.tasks.dataset import own_key

    empty, written, sealed = LocalStore(tmp_path / "empty"), LocalStore(tmp_path / "ds"), LocalStore(tmp_path / "lake")
    write_dataset(written, make_reviews(10, seed=71), ColumnSpec(), load_signing_key(keys[0]), source={})
    _lake(sealed, keys, sizes=(10,), seed=72)
    assert [own_key(s, "rows.parquet") for s in (empty, written, sealed)] == ["rows.parquet", "rows.parquet", "_rows.parquet"]


def test_a_manifest_problem_says_its_detail(tmp_path):
    """ManifestProblem.__init__ 1 (nineteenth session's fresh-clone run): a manifest that is not labelguard JSON raises
    ManifestProblem whose message is its detail (what is printed if it escapes), code bad-manifest."""
    from labelguard.tasks.dataset import ManifestProblem

    store = LocalStore(tmp_path / "ds")
    store.put("manifest.json", b"{not json")
    with pytest.raises(ManifestProblem) as err:
        read_manifest(store)
    assert err.value.code == "bad-manifest" and err.value.detail and str(err.value) == err.value.detail


def test_a_partition_written_under_a_delta_tables_folder_is_judged_by_its_own_manifest_not_the_tables_log(tmp_path, keys):
    """Day partitions written by ``ingest --partition`` into a folder that is also a Delta table: the table's log never
    lists labelguard's files, so checking a partition's objects against it would call every one of them removed. A
    part's objects are checked against a Delta log only when the manifest is the table's own (sealed at its root)."""
    import json

    from labelguard.tasks.drift import ingest_partition

    root = LocalStore(tmp_path / "table")
    root.put("part-00000-0000-c000.snappy.parquet", to_parquet_bytes(make_reviews(10, seed=4)))
    root.put("_delta_log/" + f"{0:020d}.json", "\n".join(json.dumps(a) for a in [
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {"metaData": {"id": "t", "format": {"provider": "parquet"}, "partitionColumns": []}},
        {"add": {"path": "part-00000-0000-c000.snappy.parquet", "partitionValues": {}, "size": 1, "dataChange": True}},
    ]).encode())
    written = ingest_partition(root, make_reviews(30, seed=5), ColumnSpec(), load_signing_key(keys[0]), day="2026-03-04",
                               source={"kind": "test"}, dataset_id="ds-delta")
    rep = load_verified(root.child("date=2026-03-04"), load_verify_key(keys[1]))
    assert rep.ok, (rep.code, rep.detail)
    assert [o["key"] for o in written["partition"].payload["objects"]] == ["date=2026-03-04/part-00000.parquet"]
    assert len(rep.frame) == 30


def test_a_source_outside_the_working_directory_is_never_judged_by_the_working_directorys_manifest(tmp_path, keys, other_keys, monkeypatch):
    """The walk up from an absolute source ends at the path's top folder: the working directory, a lake sealed with a
    key not trusted here, is not above the source and is not looked at (it would refuse the source as ``unknown-key``),
    for a file that is there as for a part gone with its folders (twentieth session, ``signed_source_problem`` 129)."""
    from pathlib import Path

    from labelguard.tasks.dataset import signed_source_problem

    verify = load_verify_key(other_keys[1])
    _edited_lake(LocalStore(tmp_path / "lake"), keys, ["part-0.parquet"])
    monkeypatch.chdir(tmp_path / "lake")
    location, rep = signed_source_problem("part-0.parquet", verify)
    assert (location, rep.code) == (".", "unknown-key")  # the working directory's own parts are refused
    elsewhere = tmp_path / "elsewhere" / "rows.parquet"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(to_parquet_bytes(make_reviews(5, seed=33)))
    assert len(elsewhere.parents) < 8  # the walk ends at the top folder, not at its limit of eight
    gone = "/labelguard-twentieth-gone/date=1/part-0.parquet"
    assert not Path(gone).parent.parent.exists()
    for source in (str(elsewhere), str(elsewhere.parent), gone):
        assert signed_source_problem(source, verify) is None, source
