"""What a path given where a dataset is expected really is (a CSV file, one Parquet file, a file of a dataset, the checked dataset itself), said before anything heavy loads."""

from __future__ import annotations

from pathlib import Path

from labelguard.errors import BadInput

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")
PARQUET_SUFFIXES = (".parquet", ".pq")
MANIFESTS = ("manifest.json", "_manifest.json")  # a dataset labelguard wrote; a lake sealed in place (tasks/dataset.py)
# what each command does with a dataset, for the first half of the message
EXPECTS = {
    "verify": "verify checks a stored dataset or a folder of Parquet",
    "pipeline": "pipeline trains on a dataset written by `labelguard ingest`",
    "baseline": "baseline copies a verified dataset",
    "seal": "seal signs Parquet objects (a folder, a prefix, one .parquet file or a glob)",
    "drift": "drift checks a folder of daily partitions",
    "watch": "watch checks a stored dataset or a folder of daily partitions",
}


def _local_path(uri: str) -> Path | None:
    """The local path a URI names (plain or ``file://``), or None for a remote one (``s3://…``)."""
    if "://" in uri and not uri.startswith("file://"):
        return None
    return Path(uri.removeprefix("file://"))


def _kind(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in PARQUET_SUFFIXES:
        return "parquet"
    if suffixes and suffixes[-1] in TABLE_SUFFIXES:
        return "csv"
    return None


def refuse_a_file_for_a_dataset(uri: str, command: str) -> None:
    """Refuse a local file passed where ``command`` expects a dataset folder, naming what the file is and what to do.

    ``verify iris.csv`` said "no dataset at iris.csv (fix: check the URI)" after ten seconds, which
    sends the user looking for a typo in a path that is there. Only local paths are looked at (an
    ``s3://`` object would need a request); a path that does not exist is left to the command's own
    "no dataset at …".

    Parameters
    ----------
    uri
        The command's dataset argument as typed.
    command
        One of :data:`EXPECTS`.

    Raises
    ------
    BadInput
        ``uri`` is an existing local file that ``command`` does not take (``seal`` takes one Parquet file).
    """
    path = _local_path(uri)
    if path is None or not path.is_file():
        return
    kind = _kind(path)
    if command == "seal" and kind == "parquet":
        return
    folder = str(path.parent) if str(path.parent) else "."
    expects = EXPECTS[command]
    if any((path.parent / name).is_file() for name in MANIFESTS):
        raise BadInput(f"{uri} is a file of the dataset at {folder}; {expects}", f"labelguard {command} {folder}")
    for parent in path.parent.parents:  # a part of a lake sealed in place: `verify` it through the lake, never seal it again
        if (parent / MANIFESTS[1]).is_file():  # (a new user followed the "seal it" fix and wrote a second manifest into the lake)
            raise BadInput(f"{uri} is a file of the lake sealed at {parent} (signed by its {MANIFESTS[1]}); {expects}", f"labelguard {command} {parent}")
    ingest = f"labelguard ingest --source {uri} --dest DIR" + (" --partition date=YYYY-MM-DD" if command == "drift" else "")
    if kind == "csv":
        then = ", which signs what it writes" if command == "seal" else f" first, then labelguard {command} DIR"
        raise BadInput(f"{uri} is a CSV file; {expects}", f"{ingest}{then}")
    if kind == "parquet":
        if command == "verify":
            raise BadInput(f"{uri} is a single Parquet file; {expects}",
                           f"sign it with labelguard seal {uri}, then labelguard verify {folder} (its folder), or {ingest} first")
        raise BadInput(f"{uri} is a single Parquet file; {expects}", f"{ingest} first, then labelguard {command} DIR")
    raise BadInput(f"{uri} is a file, not a dataset folder; {expects}", "pass the folder `labelguard ingest --dest` wrote")


def refuse_a_folder_of_a_sealed_lake(uri: str, command: str) -> None:
    """Refuse a local folder inside a lake sealed in place, naming the lake's root.

    ``seal lake`` signs every part below it with one ``lake/_manifest.json``, so ``verify lake/date=2026-01-01``
    found no manifest of its own and read as ``missing-manifest`` ("cannot be vouched for", exit 1) though
    every object there is signed (break-it r8 finding 9). Only local paths are looked at.

    Raises
    ------
    BadInput
        ``uri`` is a local folder without a manifest of its own below a folder holding ``_manifest.json``.
    """
    path = _local_path(uri)
    if path is None or not path.is_dir() or any((path / name).is_file() for name in MANIFESTS):
        return
    for parent in path.parents:
        if (parent / MANIFESTS[1]).is_file():
            raise BadInput(f"{uri} is a folder of the lake sealed at {parent} (signed by its {MANIFESTS[1]}); {EXPECTS[command]}",
                           f"labelguard {command} {parent}")


def refuse_a_file_for_an_option(value: str | None, option: str, checked: str) -> None:
    """Refuse a ``--reference``/``--holdout`` that cannot be the trusted dataset it names, before any work.

    ``verify ds --reference iris.csv`` said "no dataset at iris.csv (fix: check the URI)", and
    ``--reference ds`` (the dataset being checked) compared the data with itself, so every
    reference guard passed whatever the data held. Local paths are looked at; an ``s3://`` key
    is compared by name only (its kind is said by :func:`describe_missing` when nothing is there).

    Parameters
    ----------
    value
        The option's value as typed (None: not given, nothing to check).
    option
        ``"--reference"`` or ``"--holdout"``, for the message.
    checked
        The command's dataset argument: the option may not name it.

    Raises
    ------
    BadInput
        ``value`` is the checked dataset, a local CSV or Parquet file, or a file inside a dataset.
    """
    if value is None:
        return
    if _same_place(value, checked):
        raise BadInput(f"{option} {value} is the dataset being checked: comparing it with itself passes whatever it holds",
                       # a baseline of the dataset itself (the fix this gave) holds the same rows: verify then reads it as the
                       # data compared with itself ("cannot tell"); the trusted rows are the ones taken apart from it
                       f"leave {option} out to use the dataset's own trusted holdout, or give a baseline of rows taken apart from the data, "
                       f"e.g. `labelguard baseline {str(checked).rstrip('/')}/holdout DIR`")
    path = _local_path(value)
    if path is None or not path.is_file():
        return
    folder = str(path.parent) if str(path.parent) else "."
    if any((path.parent / name).is_file() for name in MANIFESTS):
        raise BadInput(f"{option} {value} is a file of the dataset at {folder}; {option} takes the dataset folder", f"{option} {folder}")
    what = {"csv": "a CSV file", "parquet": "a single Parquet file"}.get(_kind(path), "a file, not a dataset folder")
    raise BadInput(f"{option} {value} is {what}; {option} takes a signed dataset folder",
                   f"labelguard ingest --source {value} --dest DIR first, then {option} DIR")


def describe_missing(uri: str) -> tuple[str, str]:
    """The problem and the fix for a URI that holds no dataset, naming an object's kind when its name gives it away.

    ``--holdout s3://bucket/batch.csv`` said "no dataset at … (fix: check the URI)" of a URI that is right:
    the object is there, it is just not a dataset folder.
    """
    kind = _kind(Path(uri.rstrip("/").rsplit("/", 1)[-1]))
    if kind == "csv":
        return (f"no dataset at {uri}: it names a CSV object, and labelguard checks a dataset folder (prefix) that ingest wrote",
                "copy it locally and run labelguard ingest --source FILE --dest DIR, then pass DIR")
    if kind == "parquet":
        return (f"no dataset at {uri}: it names one Parquet object, and labelguard checks a dataset folder (prefix) that ingest wrote",
                f"labelguard ingest --source {uri} --dest DIR first, then pass DIR")
    return f"no dataset at {uri}", "check the URI (labelguard ingest writes one there)"


def _same_place(a: str, b: str) -> bool:
    """Whether two dataset URIs name the same place (local paths resolved, ``s3://`` keys compared without trailing slashes)."""
    local_a, local_b = _local_path(a), _local_path(b)
    if local_a is None or local_b is None:
        return local_a is local_b and a.rstrip("/") == b.rstrip("/")
    return local_a.resolve() == local_b.resolve()
