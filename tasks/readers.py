"""Readers that keep values: CSV dialect and encoding detected (or given), ids as written, timestamps parsed only unambiguously.

Every command that reads a user's file (``ingest``, ``poison``, ``tamper`` on a CSV/Parquet object)
goes through :func:`read_bytes`, so one file reads the same everywhere and a bad one fails the same
way: a :class:`labelguard.errors.BadInput` naming the problem and the fix, never a traceback.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from labelguard.errors import BadInput

# Python's csv module refuses a field over 131,072 characters by default; pandas' reader has no such limit, so a file
# ingest reads (a long review, a document in a cell) made poison's in-place rewrite fail with "field larger than field limit".
csv.field_size_limit(2**31 - 1)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = ",;\t|"
# An id that int64 represents exactly as written: no sign games, no leading zeros, at most 18 digits.
_CANONICAL_INT = re.compile(r"^(0|-?[1-9][0-9]{0,17})$")
# Plausible epoch values for 1990-01-01 .. 2100-01-01 in each unit; the windows never overlap.
EPOCH_WINDOWS = {"s": (631_152_000, 4_102_444_800)}
EPOCH_WINDOWS.update({u: (lo * f, hi * f) for u, f in (("ms", 10**3), ("us", 10**6), ("ns", 10**9)) for lo, hi in [EPOCH_WINDOWS["s"]]})


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file was written, so a rewrite (``tamper``, ``poison``) can write it the same way."""

    delimiter: str = ","
    encoding: str = "utf-8"
    bom: bool = False
    lineterminator: str = "\n"
    sep_hint: bool = False  # the file starts with Excel's "sep=;" line (kept as is by a rewrite)

    @property
    def codec(self) -> str:
        return "utf-8-sig" if self.bom and self.encoding == "utf-8" else self.encoding


def is_csv(name: str) -> bool:
    return name.lower().endswith(CSV_SUFFIXES)


def is_parquet(name: str) -> bool:
    return name.lower().endswith(PARQUET_SUFFIXES)


# Compressed CSV exports (``reviews.csv.gz``): read through the standard library's codecs.
COMPRESSED_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}


def compression_of(name: str) -> str | None:
    """The codec module of a compressed CSV name (``x.csv.gz`` -> ``"gzip"``), else None."""
    stem, dot, ext = name.lower().rpartition(".")
    return COMPRESSED_SUFFIXES.get(dot + ext) if dot and is_csv(stem) else None


def decompress(raw: bytes, name: str) -> tuple[bytes, str]:
    """Decompress a compressed CSV (see :func:`compression_of`); other data is returned as is.

    Returns
    -------
    (bytes, name without the compression suffix)

    Raises
    ------
    BadInput
        The data is not valid for its suffix's codec (truncated, or not compressed at all).
    """
    codec = compression_of(name)
    if codec is None:
        return raw, name
    import importlib

    try:
        return importlib.import_module(codec).decompress(raw), name.rpartition(".")[0]
    except (OSError, EOFError, ValueError) as exc:
        raise BadInput(f"{name} is not valid {codec} data: {exc}", f"check the file is complete, or name it without the {name.rpartition('.')[2]!r} suffix if it is not compressed") from None


# Languages whose script is not Latin: charset-normalizer's guess is taken for them when it is coherent.
_NON_LATIN = {
    "Russian", "Ukrainian", "Bulgarian", "Serbian", "Macedonian", "Belarusian", "Kazakh", "Greek", "Hebrew",
    "Arabic", "Persian", "Farsi", "Thai", "Japanese", "Chinese", "Korean", "Hindi", "Vietnamese",
}


def _legacy_encoding(sample: bytes, name: str) -> str:
    """The encoding of text that is not UTF-8.

    Windows-1252 when it decodes the bytes — what Excel writes in Western locales, and the WHATWG
    Encoding Standard's reading of "latin-1" — unless charset-normalizer recognises, with some
    coherence, a language written in another script (Cyrillic, Greek, Hebrew, Arabic, CJK, ...).
    charset-normalizer alone is unreliable on short Western text (a French latin-1 export came out
    as mac_latin2, a cp1252 one as a Cyrillic DOS code page), so it only decides outside Latin scripts.
    """
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is not None and best.language in _NON_LATIN and best.coherence >= 0.3:
        return best.encoding
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        pass
    if best is None:
        raise BadInput(f"{name} is not text in any encoding labelguard recognises", "pass --encoding (e.g. latin-1)")
    return best.encoding


def _utf16_without_bom(raw: bytes) -> str | None:
    """'little-endian' or 'big-endian' when ``raw`` reads as UTF-16 text of mostly ASCII characters without a byte-order
    mark (what ``iconv -t UTF-16LE`` and some exporters write): the byte after (or before) each character is 0, the
    character's own byte is not. None otherwise (a UTF-8 or single-byte text file holds no NUL bytes)."""
    sample = raw[: 1 << 16]
    sample = sample[: len(sample) & ~1]
    if len(sample) < 4 or sample.count(0) < len(sample) // 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    for zeros, chars, order in ((odd, even, "little-endian"), (even, odd, "big-endian")):
        if zeros.count(0) >= 0.9 * len(zeros) and chars.count(0) <= 0.1 * len(chars):
            return order
    return None


# The first bytes of files that are not text (the magic numbers of their formats), with what a CSV name holding them is
# and the fix: a gzip or Parquet file named .csv was sent to --encoding (break-it r17 F6).
_NOT_TEXT = (
    (b"\x1f\x8b", "gzip-compressed", ".gz"),
    (b"BZh", "bzip2-compressed", ".bz2"),  # then a block size digit and the block magic, checked below
    (b"\xfd7zXZ\x00", "xz-compressed", ".xz"),
    (b"PAR1", "Parquet", None),
)


def _refuse_binary_csv(raw: bytes, name: str) -> None:
    """A file named as CSV whose bytes are a compressed or Parquet file: say what it is and the name to give it."""
    for magic, what, suffix in _NOT_TEXT:
        if raw.startswith(magic) and (magic != b"PAR1" or raw.endswith(b"PAR1")) and (magic != b"BZh" or raw[3:10] in {b"%d1AY&SY" % k for k in range(1, 10)}):
            base = name.rsplit("/", 1)[-1]
            if suffix is None:
                stem = base.rsplit(".", 1)[0] if "." in base else base
                raise BadInput(f"{name} is a Parquet file, not CSV text", f"name it {stem}.parquet (labelguard reads .parquet as Parquet)")
            raise BadInput(f"{name} is {what}, not CSV text", f"name it {base}{suffix} (labelguard decompresses .csv{suffix}), or decompress it")
    if raw.startswith(b"PK\x03\x04"):
        raise BadInput(f"{name} is a zip archive (an Excel workbook?), not CSV text", "unzip it, or export the sheet as CSV")


def sniff_csv(raw: bytes, *, delimiter: str | None = None, encoding: str | None = None, name: str = "the file") -> CsvDialect:
    """Detect encoding (BOM first, then UTF-8, then charset-normalizer) and delimiter (``csv.Sniffer``).

    Raises
    ------
    BadInput
        Empty input, or text that decodes in no known encoding.
    """
    if not raw.strip():
        raise BadInput(f"{name} is empty (no header, no rows)", "export the data with a header row and at least one row")
    bom = raw.startswith(codecs.BOM_UTF8)
    if encoding is None:
        if not raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and (wide := _utf16_without_bom(raw)):
            # NUL is valid UTF-8, so the file was read as UTF-8 and its header as 'i\x00d\x00': "pass --id-col" (break-it r17 F5)
            raise BadInput(f"{name} looks like UTF-16 text without a byte-order mark ({wide}: every other byte is 0)",
                           f"pass --encoding utf-16-{'le' if wide == 'little-endian' else 'be'}")
        if bom:
            encoding = "utf-8"
        elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            try:
                raw[: 1 << 20].decode("utf-8")
                encoding = "utf-8"
            except UnicodeDecodeError as exc:
                if exc.start > (1 << 20) - 4:  # a character cut at the sample's end
                    encoding = "utf-8"
                else:
                    encoding = _legacy_encoding(raw[: 1 << 20], name)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise BadInput(f"unknown encoding {encoding!r}", "pass --encoding utf-8, latin-1, cp1252, ...") from None
    head = raw[:65536].decode("utf-8-sig" if bom else encoding, errors="replace")
    terminator = "\r\n" if "\r\n" in head else "\n"
    hint = excel_sep_hint(head)
    if hint is not None and delimiter is None:  # Excel's own way of naming the delimiter: any one character
        delimiter = hint
        _refuse_a_wrong_sep_line(head, hint, name)
    if delimiter is None:
        lines = head.splitlines()[:50]
        try:
            delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
        except csv.Error:
            delimiter = None
        in_header = "".join(d for d in DELIMITERS if lines and d in lines[0])
        if in_header and (delimiter is None or delimiter not in in_header):
            # the header is the file's column count: a delimiter it lacks (a decimal comma in every row, with rows
            # longer than the header by trailing delimiters) is not the file's; the rows agree on one it holds
            try:
                delimiter = csv.Sniffer().sniff("\n".join(lines[1:] or lines), delimiters=in_header).delimiter
            except csv.Error:
                pass
        delimiter = delimiter or ","
    elif len(delimiter) != 1:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1:
            raise BadInput(f"--delimiter must be one character, got {delimiter!r}", "pass e.g. --delimiter ';' or --delimiter tab")
    return CsvDialect(delimiter=delimiter, encoding=encoding, bom=bom, lineterminator=terminator, sep_hint=hint is not None)


# Excel writes (and reads) "sep=;" as a file's first line to name its delimiter; some writers quote it.
_SEP_HINT = re.compile(r'^"?sep=(.)"?[ \t]*$', re.IGNORECASE)


def _refuse_a_wrong_sep_line(head: str, hint: str, name: str) -> None:
    """A ``sep=`` line naming a delimiter the rows do not use (a file re-saved with another delimiter, the line kept)
    read every row as one column, and the error sent the user to --delimiter detection, which the line overrides."""
    import csv as _csv

    lines = [line for line in head.lstrip("\ufeff").splitlines()[1:51] if line.strip()]
    if len(lines) < 2:
        return

    def widths(d: str) -> set[int]:
        return {len(r) for r in _csv.reader(lines[:-1] if len(lines) > 2 else lines, delimiter=d)}  # the sample's last line may be cut

    if widths(hint) != {1} and len(widths(hint)) == 1:
        return  # the rows have the named delimiter, in one width: the line is right
    used = [d for d in DELIMITERS if d != hint and len(widths(d)) == 1 and widths(d) != {1}]
    if len(used) != 1:
        return
    shown, said = ({"\t": "tab"}.get(d, d) for d in (used[0], hint))
    raise BadInput(
        f"{name} starts with the line {'sep=' + hint!r}, which names {said!r} as the delimiter, but its rows are {shown!r}-delimited",
        f"correct line 1 to {'sep=' + used[0]!r} or delete it, or pass --delimiter '{shown}'",
    )


def excel_sep_hint(head: str) -> str | None:
    """The delimiter named by Excel's ``sep=X`` first line (``X`` any one character, a tab included), else None."""
    first = head.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    match = _SEP_HINT.match(first)
    return match.group(1) if match else None


def read_csv_bytes(raw: bytes, *, id_col: str | None = None, delimiter: str | None = None, encoding: str | None = None, name: str = "the file",
                   label_col: str | None = None) -> tuple[pd.DataFrame, CsvDialect]:
    """Parse CSV bytes, keeping the id column as written (see :func:`ids_as_written`).

    What spreadsheets add around the data is read as they mean it, and said (:func:`reading_notes`):
    Excel's ``sep=;`` first line names the delimiter; rows empty in every column (a line of bare
    delimiters) are skipped like blank lines; columns with no header and no value (trailing delimiters)
    are dropped. A header line repeated below the first (two exports joined) is refused, naming its line.

    Returns
    -------
    (frame, dialect)

    Raises
    ------
    BadInput
        Empty file, header without rows, undecodable text, a malformed row, a repeated header line.
    """
    import warnings

    _refuse_binary_csv(raw, name)
    dialect = sniff_csv(raw, delimiter=delimiter, encoding=encoding, name=name)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            # index_col=False: rows longer than the header (trailing delimiters) must not turn their first cells into an index
            frame = pd.read_csv(
                io.BytesIO(raw), sep=dialect.delimiter, encoding=dialect.codec, dtype=str, keep_default_na=False,
                na_values=[""], skipinitialspace=False, skiprows=1 if dialect.sep_hint else None, index_col=False,
            )
    except pd.errors.EmptyDataError:
        raise BadInput(f"{name} is empty (no header, no rows)", "export the data with a header row and at least one row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"cannot parse {name} as CSV (delimiter {dialect.delimiter!r}, {dialect.encoding}): {first}", "fix the file, or pass --delimiter/--encoding") from None
    frame.columns = [str(c) for c in frame.columns]
    header = _header_cells(raw, dialect)
    dupes = sorted({h for h in header if h.strip() and header.count(h) > 1})
    if dupes:  # pandas would rename the second one "name.1", a column the source does not have
        where = ", ".join(str(i + 1) for i, h in enumerate(header) if h == dupes[0])
        raise BadInput(f"{name} has the column name {dupes[0]!r} more than once (columns {where})", "rename one of them in the header")
    notes: dict = {}
    one_cell = len(header) == 1 and any(d in header[0] for d in DELIMITERS)  # another delimiter: missing_column_hint says so
    if not one_cell and any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):  # pandas dropped the cells past the header
        longer = _past_the_header(raw, dialect, len(header))
        if longer:
            line, cells = longer
            raise BadInput(
                f"line {line} of {name} has {cells} cells, more than the header's {len(header)}, and the ones past the header are not empty",
                f"give every column a name in the header (line {2 if dialect.sep_hint else 1}), or remove the extra cells",
            )
        notes["trailing"] = True
    aligned = len(header) == len(frame.columns)
    repeated = _repeats_header(frame, header) if aligned else np.zeros(len(frame), bool)
    unnamed = [c for c, h in zip(frame.columns, header) if not h.strip() and frame[c].isna().all()] if aligned else []
    if unnamed:  # trailing delimiters (Excel's ";;"): nothing to keep, nothing to sign
        frame = frame.drop(columns=unnamed)
        notes["dropped"] = unnamed
    blank = _empty_rows(frame)  # a row of bare delimiters, some with a space (";;; "), is an empty row
    if blank.any() or repeated.any():
        lines = _data_lines(raw, dialect, np.flatnonzero(blank | repeated))
        if repeated.any():
            at = [lines.get(i, f"? (data row {i})") for i in np.flatnonzero(repeated)]
            shown = ", ".join(h for h in header[:3]) + (", …" if len(header) > 3 else "")
            where = f"line {at[0]}" if len(at) == 1 else f"{len(at)} lines, first line {at[0]}"
            raise BadInput(
                f"{name} repeats its header ({shown}) at {where}: two exports joined into one file?",
                f"delete the repeated header line{'s' if len(at) > 1 else ''}, keeping only line {2 if dialect.sep_hint else 1}",
            )
        notes["skipped_lines"] = [lines.get(i, f"? (data row {i})") for i in np.flatnonzero(blank)]  # csv and pandas agree on records; never a crash if not
        frame = frame[~blank].reset_index(drop=True)
    if frame.empty:
        raise BadInput(f"{name} has a header but no rows", "export the data with at least one row")
    out = _infer_types(frame, keep=id_col, decimal_comma=dialect.delimiter != ",", labels=label_col)
    if notes:
        out.attrs["reading"] = {**out.attrs.get("reading", {}), **notes}
    return out, dialect


def _header_cells(raw: bytes, dialect: CsvDialect) -> list[str]:
    """The header's cells as written (after Excel's ``sep=`` line when there is one)."""
    text = raw[:65536].decode(dialect.codec, errors="replace").lstrip("\ufeff")
    records = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
    if dialect.sep_hint:
        next(records, None)
    return next(records, [])


def _empty_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is missing or only spaces, shape (n,) bool (cells are looked at only while their row may still be empty)."""
    empty = np.ones(len(frame), bool)
    for col in frame.columns:
        cells = frame[col]
        present = empty & cells.notna().to_numpy(dtype=bool)
        if present.any():
            empty[present] = cells[present].astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        if not empty.any():
            break
    return empty


def _repeats_header(frame: pd.DataFrame, header: list[str]) -> np.ndarray:
    """Rows whose every cell is the header's cell of its column (an empty header cell: an empty cell); ``header`` aligned with the columns."""
    same = np.ones(len(frame), bool)
    for col, head in zip(frame.columns, header):
        cells = frame[col]
        # another tool's export repeats it in its own case or spacing ("ID;LABEL;AMOUNT" after "id;label;amount")
        same &= (cells.isna() if not head.strip() else cells.astype("string").str.strip().str.casefold().eq(head.strip().casefold()).fillna(False)).to_numpy(dtype=bool)
        if not same.any():
            break
    return same


def _past_the_header(raw: bytes, dialect: CsvDialect, width: int) -> tuple[int, int] | None:
    """The first data record with a non-empty cell past the header's ``width`` cells, as (line, cells); None when
    every cell past the header is empty (trailing delimiters only)."""
    for line, record in _data_records(raw.decode(dialect.codec, errors="replace"), dialect):
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            return line, len(record)
    return None


def _skipped_by_pandas(record: list[str]) -> bool:
    """A record pandas skips as a blank line (an empty or whitespace-only line)."""
    return not record or (len(record) == 1 and not record[0].strip())


def _data_records(text: str, dialect: CsvDialect):
    """The file's data records as pandas reads them, each with the line it starts on (1-based)."""
    records = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=dialect.delimiter)
    skip = 2 if dialect.sep_hint else 1
    end = 0
    for record in records:
        start, end = end + 1, records.line_num
        if skip:
            skip -= 1
            continue
        if not _skipped_by_pandas(record):
            yield start, record


def _data_lines(raw: bytes, dialect: CsvDialect, positions) -> dict[int, int]:
    """The line (1-based, as an editor numbers them) each data row at ``positions`` (0-based, as pandas read them) starts on."""
    wanted, found = set(int(p) for p in positions), {}
    last = max(wanted)
    for pos, (line, _) in enumerate(_data_records(raw.decode(dialect.codec, errors="replace"), dialect)):
        if pos in wanted:
            found[pos] = line
        if pos >= last:
            break
    return found


def reading_notes(frame: pd.DataFrame) -> list[str]:
    """What reading a file skipped, one line each (for ingest to print): rows empty in every column, and the fix
    for columns that look like numbers but were left out (their reasons are on the columns line)."""
    import shlex

    notes = []
    lines = frame.attrs.get("reading", {}).get("skipped_lines", [])
    if lines:
        where = ", ".join(map(str, lines[:5])) + (", …" if len(lines) > 5 else "")
        notes.append(f"skipped {len(lines)} row{'s' if len(lines) > 1 else ''} empty in every column (line{'s' if len(lines) > 1 else ''} {where})")
    for label, (col, rows) in frame.attrs.get("reading", {}).get("missing_named_classes", {}).items():
        writer = "R writes" if label.strip().casefold() == "na" else "Python writes"
        notes.append(f"class {label!r} ({rows} row{'s' if rows > 1 else ''}) in {col!r} is also how {writer} a missing value: "
                     f"kept as a class, as text labels 'NA' and 'None' are (fix: if those rows are unlabelled, drop them and ingest again)")
    unread = list(frame.attrs.get("reading", {}).get("unparsed", {}))
    if unread:
        names = ", ".join(unread)
        notes.append(f"not read as numbers, so not features: {names} (fix: write each such column one way (one currency, "
                     f"one grouping) and ingest again; or pass --ignore-cols {shlex.quote(','.join(unread))} to leave {'it' if len(unread) == 1 else 'them'} out knowingly)")
    return notes


def _not_numbers(cells: pd.Series, parsed: pd.Series) -> str | None:
    """Why a column that is mostly numbers was not read as numbers, or None for a column of words.

    One typo ('abc' among 1,500 numbers), a decimal-comma cell in a dot-decimal column ('1,5') or a column of
    percentages ('12.5%') left the column out of the features with nothing said (break-it r17 F3). ``parsed``: which
    cells ``pd.to_numeric`` read, aligned with ``cells``.
    """
    if cells.str.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)\s*%").all():
        return f"percentages like {cells.iloc[0]!r}: write them as plain numbers"
    if parsed.mean() < 0.5:
        return None
    odd = cells[~parsed]
    return f"{len(odd)} of {len(cells)} cells are not numbers, e.g. {odd.iloc[0]!r}: write every cell as a number"


_DOT_GROUPED_WHOLE = r"[+-]?[1-9]\d{0,2}(\.\d{3})+|[+-]?\d+"  # 2.685, 1.234.567 or 479: never "0.132"


def _writes_decimal_commas(values: pd.Series) -> bool:
    """Every cell a number whose decimals (at least one cell's) follow a comma: "-0,132", "4.900,00"."""
    text = values.dropna().astype(str).str.strip()
    return bool(len(text)) and bool(text.str.fullmatch(r"[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?").all()) and bool(text.str.contains(",", regex=False).any())


NA_TOKENS = {"na", "n/a", "nan", "null", "none", "-", "?", "missing", "#n/a", "nil"}
_DECIMAL_COMMA = r"[+-]?\d+(,\d+)?"


def _infer_types(frame: pd.DataFrame, *, keep: str | None, decimal_comma: bool = False, labels: str | None = None) -> pd.DataFrame:
    """Columns read as text become numbers where every value is one; ``keep`` (the id) goes through
    :func:`ids_as_written`, so "007" stays "007" and "7" becomes 7 only when every id is canonical.

    With ``decimal_comma`` (a file not delimited by commas, as European exports are), a column whose
    every value is digits with at most one decimal comma ("0,868", "-12", "3,5") and at least one
    comma is read as numbers too; the file's text itself is never rewritten.
    In such a file, once some column writes its decimals with a comma, a column of whole numbers with
    '.' between groups of three ("2.685" beside "479", German Excel's ``#.##0``) is read with '.' as the
    thousands separator: its '.' cannot be the decimal mark the file writes as ','.
    ``labels`` (the label column) written as zero-padded codes ("001", "002") stays text, as ids do: read as
    numbers, "001" became class 1 and a flipped cell was written back as "3" (break-it r9 F15).
    """
    out, unparsed = {}, {}
    comma_decimals = decimal_comma and any(_writes_decimal_commas(frame[c]) for c in frame.columns if c != keep)
    for col in frame.columns:
        values = frame[col]
        if col == keep:
            out[col] = ids_as_written(values)
            continue
        if col == labels and _zero_padded_codes(values):
            out[col] = values
            continue
        present = values.notna()
        if present.any():
            # "N/A", "null", "-" among numbers are missing numbers, not a text column to ignore in silence
            token = values.str.strip().str.lower().isin(NA_TOKENS) & present
            if token.any() and not token[present].all() and pd.to_numeric(values[present & ~token], errors="coerce").notna().all():
                if col == labels:  # kept as written: sources.infer_spec names the token, not "empty cells" (break-it r17 F7)
                    out[col] = values
                    continue
                values = values.mask(token)
                present = values.notna()
        if decimal_comma and present.any():
            text = values[present].astype(str)
            if text.str.fullmatch(_DECIMAL_COMMA).all() and text.str.contains(",", regex=False).any() and not _comma_either_way(text):
                values = values.str.replace(",", ".", regex=False)
        if comma_decimals and present.any():
            text = values[present].astype(str).str.strip()
            if text.str.fullmatch(_DOT_GROUPED_WHOLE).all() and text.str.contains(".", regex=False).any():
                values = values.str.strip().str.replace(".", "", regex=False)
        numeric = pd.to_numeric(values, errors="coerce")
        if present.any() and not numeric[present].notna().all():
            cells = values[present].astype(str).str.strip()
            grouped = _with_thousands(cells)
            if grouped is None:
                grouped = _with_currency(cells)
            if isinstance(grouped, pd.Series):
                numeric, values = grouped.reindex(values.index), grouped.astype("string").reindex(values.index)
            elif grouped:
                unparsed[col] = grouped
            elif (why := _not_numbers(cells, numeric[present].notna())) is not None:  # a numeric column with a few cells that are not numbers
                unparsed[col] = why
        if col == labels and present.any() and numeric[present].notna().all() and _one_number_written_two_ways(frame[col][present], numeric[present]):
            out[col] = frame[col]  # kept as written: sources.refuse_label_spellings names the spellings (the reader merged them)
            continue
        if present.any() and numeric[present].notna().all():
            as_int = numeric.dropna()
            if (as_int % 1 == 0).all() and values[present].str.strip().str.fullmatch(r"[+-]?\d+").all():  # " 1" is the integer 1, as to_numeric reads it
                out[col] = numeric.astype("float64") if numeric.isna().any() else numeric.astype("int64")
            else:
                out[col] = numeric.astype("float64")
        else:
            out[col] = values
    result = pd.DataFrame(out, index=frame.index)
    if unparsed:
        result.attrs["reading"] = {"unparsed": unparsed}
    return result


# Thousands separator and decimal mark pairs that exports write: US/UK, German/Italian/Spanish, French/Nordic
# (a space, a no-break space or a narrow no-break space), Swiss.
THOUSANDS_STYLES = ((",", "."), (".", ","), (" ", ","), ("\u00a0", ","), ("\u202f", ","), (" ", "."), ("'", "."))
_SEPARATED = re.compile(r"[+-]?\d[\d.,' \u00a0\u202f]*")


def _with_thousands(cells: pd.Series) -> pd.Series | str | None:
    """Numbers written with thousands separators (``4.900,00``, ``4,900.00``, ``4 900,00``), as numbers.

    A column is read in one style (thousands separator, decimal mark) of :data:`THOUSANDS_STYLES`
    when every cell is a number in it (digits grouped by threes, or not grouped) and at least one
    cell is grouped; the conversion is pandas' own (``read_csv``'s ``thousands=``/``decimal=``).

    Parameters
    ----------
    cells
        The column's non-empty cells as text, shape (n,).

    Returns
    -------
    The numbers (int64 or float64, aligned with ``cells``); or, when some cell is grouped by threes but
    the cells fit no single style, or more than one, the reason the column stays text; or None when
    no cell is a number with thousands separators.
    """
    if not cells.str.fullmatch(_SEPARATED).all():
        return None
    fit, first = {}, {}
    for thousands, decimal in THOUSANDS_STYLES:
        t, d = re.escape(thousands), re.escape(decimal)
        grouped = cells.str.fullmatch(rf"[+-]?\d{{1,3}}({t}\d{{3}})+({d}\d+)?").to_numpy(dtype=bool)
        if grouped.any():
            fit[(thousands, decimal)] = grouped | cells.str.fullmatch(rf"[+-]?\d+({d}\d+)?").to_numpy(dtype=bool)
            first[(thousands, decimal)] = int(np.flatnonzero(grouped)[0])
    # Indian digit grouping (1,23,456: lakh and crore, groups of two above the thousands): only a cell with a group
    # of two is written this way alone; 12,345 reads the same in both
    lakh = cells.str.fullmatch(r"[+-]?\d{1,2}(,\d{2})+,\d{3}(\.\d+)?").to_numpy(dtype=bool)
    if lakh.any():
        fit[LAKH] = lakh | cells.str.fullmatch(r"[+-]?(\d{1,3},\d{3}|\d+)(\.\d+)?").to_numpy(dtype=bool)
        first[LAKH] = int(np.flatnonzero(lakh)[0])
    if not fit:
        return None
    whole = [style for style, ok in fit.items() if ok.all()]
    if len(whole) == 1:
        thousands, decimal = whole[0]
        either = _either_way(cells, thousands, decimal)
        if either:
            return either
        text = cells
        if (thousands, decimal) == LAKH:
            text, thousands = cells.str.replace(",", "", regex=False), None
        if thousands and thousands in "\u00a0\u202f":  # pandas' parser takes a one-byte separator: a no-break space is a space
            text, thousands = cells.str.replace(thousands, " ", regex=False), " "
        parsed = pd.read_csv(io.StringIO("\n".join(text)), sep="\t", header=None, thousands=thousands, decimal=decimal).iloc[:, 0]
        return pd.Series(parsed.to_numpy(), index=cells.index) if pd.api.types.is_numeric_dtype(parsed) else None
    if whole:
        either = " or ".join(_style(t, d) for t, d in whole)
        return f"numbers readable as {either}: write them without thousands separators"
    # the style most cells are written in (on a tie, the one the first grouped cell is written in)
    (t, d), ok = max(fit.items(), key=lambda kv: (int(kv[1].sum()), -first[kv[0]]))
    return f"numbers with {_style(t, d)}, but also {cells[~ok].iloc[0]!r}: write every number one way"


_SHOWN = {" ": "' '", "\u00a0": "no-break space", "\u202f": "narrow no-break space"}
LAKH = ("lakh", ".")  # the style key of Indian digit grouping in :func:`_with_thousands`


def _style(thousands: str, decimal: str) -> str:
    if (thousands, decimal) == LAKH:
        return "Indian (lakh) ',' grouping and '.' decimals"
    return f"{_SHOWN.get(thousands, repr(thousands))} thousands and {decimal!r} decimals"


def _either_way(cells: pd.Series, thousands: str, decimal: str) -> str | None:
    """Why a column read in one thousands style could as well be decimals: every grouped cell is one group of three
    after ',' or '.' (``1,234``) and no cell writes decimals, so 1,234 may be 1234 or 1.234. None when it cannot."""
    if thousands not in ",." or cells.str.contains(re.escape(decimal), regex=True).any():
        return None
    t = re.escape(thousands)
    if not cells.str.fullmatch(rf"[+-]?(\d{{1,3}}{t}\d{{3}}|\d+)").all():
        return None
    example = cells[cells.str.contains(t, regex=True)].iloc[0]
    whole, part = example.lstrip("+-").split(thousands)
    sign = "-" if example.startswith("-") else ""
    return (f"numbers like {example!r}, {sign}{whole}{part} with {thousands!r} thousands or {sign}{whole}.{part} with a decimal {thousands!r}: "
            f"write them without thousands separators, or with their decimals")


def _comma_either_way(cells: pd.Series, mark: str = ",") -> bool:
    """Cells with a decimal ``mark`` that could as well be whole numbers with ``mark`` thousands (every such cell ``1,234``)."""
    marked = cells[cells.str.contains(mark, regex=False)]
    return bool(len(marked)) and bool(marked.str.fullmatch(rf"[+-]?[1-9]\d{{0,2}}{re.escape(mark)}\d{{3}}").all())


# Currency marks a money column is written with: symbols, and ISO 4217 codes of currencies exports write.
CURRENCY_SYMBOLS = "$€£¥₹₩₽₺₪₫฿₱₦₴"
CURRENCY_CODES = frozenset(
    "USD EUR GBP JPY CNY RMB INR CHF CAD AUD NZD SEK NOK DKK ISK PLN CZK HUF RON BGN RUB UAH TRY ILS AED SAR QAR KWD "
    "BRL MXN ARS CLP COP PEN ZAR NGN KES EGP KRW SGD HKD TWD THB IDR MYR PHP VND PKR BDT LKR".split()
)
_UNIT = rf"[{CURRENCY_SYMBOLS}]|[A-Z]{{1,2}}\$|[A-Z]{{3}}"
_MONEY = re.compile(rf"(?P<s1>[+-]?)\s*(?P<pre>{_UNIT})?\s*(?P<s2>[+-]?)\s*(?P<num>\d(?:[\d.,' \u00a0\u202f]*\d)?)\s*(?P<post>{_UNIT})?")


def _with_currency(cells: pd.Series) -> pd.Series | str | None:
    """Money written with its currency (``$1,234.50``, ``€12,00``, ``1,234.50 USD``, ``₹1,23,456``), as numbers.

    A column is read as numbers when every cell is one number with the same currency mark in the same place (a
    symbol, ``US$``-like, or an ISO 4217 code), the sign before or after a leading mark, and the numbers agree
    on one way of writing them (:func:`_with_thousands`; a decimal comma only where it cannot be thousands).

    Returns
    -------
    The numbers (aligned with ``cells``); the reason the column stays text when most cells are money but they
    disagree (two currencies, money beside bare numbers, numbers written two ways); None when it is not money.
    """
    anchored = _MONEY.pattern.join(("^", "$"))
    # a look at evenly spaced cells first: a column of words (free text) is let go without parsing every cell
    sample = cells.iloc[:: max(1, len(cells) // 1000)]
    if sample.str.fullmatch(anchored).mean() < 0.25:
        return None
    parts = cells.str.extract(anchored)
    matched = parts["num"].notna().to_numpy(dtype=bool)
    unit = parts["pre"].fillna("") + parts["post"].fillna("")
    known = ((unit.str.len() == 1) | unit.str.endswith("$") | unit.isin(CURRENCY_CODES)).to_numpy(dtype=bool)
    both = (parts["pre"].notna() & parts["post"].notna()).to_numpy(dtype=bool)
    signs = (parts["s1"].fillna("").str.len() + parts["s2"].fillna("").str.len()).to_numpy()
    money = matched & known & ~both & (signs <= 1) & (unit != "").to_numpy(dtype=bool)
    if not money.any() or money.sum() * 2 < len(cells):  # a few prices in a column of words is text, not a money column
        return None
    forms = pd.Series(np.where(parts["pre"].notna(), "pre", "post"), index=cells.index) + unit
    shown = cells.iloc[int(np.flatnonzero(money)[0])]
    first_form = forms.iloc[int(np.flatnonzero(money)[0])]
    odd = np.flatnonzero(~money | (forms != first_form).to_numpy(dtype=bool))  # a cell that is no money has no form to agree
    if len(odd):
        return f"text like {shown!r} mixed with {cells.iloc[int(odd[0])]!r}: write every cell as one currency in one place"
    numbers = (parts["s1"].fillna("") + parts["s2"].fillna("") + parts["num"]).str.replace(r"\s+$", "", regex=True)
    plain = pd.to_numeric(numbers, errors="coerce")
    if plain.notna().all():
        if _comma_either_way(numbers, "."):  # €4.900 beside €12: 4900 in Germany, 4.9 in the US
            return _either_way(numbers, ".", ",")
        return pd.Series(plain.to_numpy(), index=cells.index)
    if numbers.str.fullmatch(_DECIMAL_COMMA).all():
        if _comma_either_way(numbers):
            return _either_way(numbers, ",", ".")
        return pd.Series(pd.to_numeric(numbers.str.replace(",", ".", regex=False)).to_numpy(), index=cells.index)
    grouped = _with_thousands(numbers)
    if grouped is None:
        return f"money like {shown!r} whose numbers labelguard cannot read: write the amounts as plain numbers"
    return grouped


def _one_number_written_two_ways(cells: pd.Series, numbers: pd.Series) -> bool:
    """Some number is written in more than one way among ``cells`` (``'1'`` and ``'1.0'``, ``'1e0'``, ``' 1'``):
    read as numbers they were one class in silence, and the signed class names (``1.0``) not how most rows write
    them (break-it r17 F8). ``numbers`` is ``cells`` parsed."""
    spellings = pd.DataFrame({"n": numbers.to_numpy(), "s": cells.astype(str).to_numpy()}).drop_duplicates()
    return bool(spellings["n"].duplicated().any())


def _zero_padded_codes(values: pd.Series) -> bool:
    """Whole numbers in text, some written with a leading zero ("001"): codes, whose zeros are part of the name."""
    text = values.dropna().astype(str).str.strip()
    return bool(len(text)) and bool(text.str.fullmatch(r"\d+").all()) and bool(text.str.fullmatch(r"0\d+").any())


def ids_as_written(values: pd.Series) -> pd.Series:
    """Ids exactly as the file has them: int64 only when every id is a canonical integer (so the
    text round-trips), otherwise the strings themselves (leading zeros kept)."""
    text = values.astype("string")
    if text.notna().all() and text.str.fullmatch(_CANONICAL_INT.pattern).all():
        return text.astype("int64")
    return text


def decimals_as_float(table):
    """An Arrow table whose decimal columns (Parquet ``decimal128``/``decimal256``: SQL ``NUMERIC``, money,
    fixed point, as Spark and pyarrow write them) are float64.

    pandas decodes a decimal column to ``decimal.Decimal`` objects, a column of dtype ``object`` that
    feature selection took for not numeric and ignored in silence. Every decimal128/256 value lies
    within float64's range (|x| < 1e76), so none is refused; digits past float64's ~15-17 significant
    ones are rounded, which no feature statistic resolves. The cast goes through the decimal text, so each
    value is the float nearest to it (``float(Decimal("1.021")) == 1.021``); Arrow's direct cast is not
    correctly rounded (1.0210000000000001).
    """
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, pa.field(field.name, pa.float64(), field.nullable, field.metadata), table.column(i).cast(pa.string()).cast(pa.float64()))
    return table


def binary_as_text(table):
    """An Arrow table whose ``binary`` columns are text: Hive, Impala and older Spark write strings as Parquet BINARY
    without the UTF-8 annotation, and pandas decoded them to ``bytes`` — labels ``b'churn'``/``b'stay'`` that no
    ``--positive-class`` could name (then a crash on JSON), review text ignored without a reason or, named with
    ``--text-cols``, an unexpected UnicodeDecodeError (break-it r15 F9). A column that is valid UTF-8 is read as such;
    another is read as Windows-1252 (Latin-1 for the five bytes it leaves undefined), as a CSV that is not UTF-8 is."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if not (pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)):
            continue
        column = table.column(i)
        try:
            text = column.cast(pa.large_string() if pa.types.is_large_binary(field.type) else pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = pa.array([None if v is None else _legacy_text(v) for v in column.to_pylist()], type=pa.string())
        table = table.set_column(i, pa.field(field.name, text.type, field.nullable, field.metadata), text)
    return table


def _legacy_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return value.decode("cp1252")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def duplicate_column(names) -> tuple[str, int] | None:
    """The first column name a Parquet file holds more than once, with its count (None when every name is one column)."""
    from collections import Counter

    twice = [(n, k) for n, k in Counter(names).items() if k > 1]
    return twice[0] if twice else None


def arrow_to_frame(table) -> pd.DataFrame:
    """An Arrow table as a frame whose every stored column is a column: pandas metadata would turn a
    column written by ``df.set_index("id").to_parquet()`` back into the index, where ``--id-col id``
    cannot find it. An unnamed stored index (``__index_level_0__``) stays dropped. Decimal columns are
    read as float64 (:func:`decimals_as_float`)."""
    frame = binary_as_text(decimals_as_float(table)).to_pandas()
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    return frame


def read_bytes(raw: bytes, name: str, *, id_col: str | None = None, delimiter: str | None = None, encoding: str | None = None,
               label_col: str | None = None, allow_empty: bool = False) -> tuple[pd.DataFrame, CsvDialect | None]:
    """Decode a CSV or Parquet object by its name's suffix; ``allow_empty`` returns a Parquet file of no rows (a
    lake's part: Spark writes one for a task whose partition had no rows) as an empty frame instead of refusing it.

    Raises
    ------
    BadInput
        Unsupported suffix, unreadable or empty data.
    """
    if is_csv(name):
        return read_csv_bytes(raw, id_col=id_col, delimiter=delimiter, encoding=encoding, name=name, label_col=label_col)
    if is_parquet(name):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            # a name written twice (pyarrow and Spark write such files) made pyarrow's read fail with "Multiple matches
            # for FieldRef", reported as an incomplete file (break-it r15 F15)
            if (twice := duplicate_column(pq.ParquetFile(pa.BufferReader(raw)).schema_arrow.names)) is not None:
                raise BadInput(f"column {twice[0]!r} appears {twice[1]} times in {name}", "rename or drop all but one of them before ingest (columns are read by name)")
            frame = arrow_to_frame(pq.read_table(pa.BufferReader(raw)))
        except (pa.ArrowInvalid, OSError) as exc:
            raise BadInput(f"{name} is not readable Parquet: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", "check that the file is complete Parquet") from None
        if frame.empty and not allow_empty:
            raise BadInput(f"{name} has no rows", "write the data with at least one row")
        return frame, None
    raise BadInput(f"unsupported file type for {name}", "use a .csv (.tsv, .txt) or .parquet file")


def read_file(path: Path, *, id_col: str | None = None, delimiter: str | None = None, encoding: str | None = None,
              label_col: str | None = None) -> tuple[pd.DataFrame, CsvDialect | None]:
    """Read a local CSV or Parquet file (see :func:`read_bytes`).

    Raises
    ------
    BadInput
        No such file, unreadable, or one of :func:`read_bytes`'s reasons.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"no such file: {path}", "pass an existing .csv or .parquet file")
    if not (is_csv(path.name) or is_parquet(path.name) or compression_of(path.name)):
        raise BadInput(f"unsupported file type {path.suffix!r} for {path}", "use a .csv (.tsv, .txt, optionally .gz/.bz2/.xz) or .parquet file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}", "check the file's permissions") from None
    raw, name = decompress(raw, path.name)
    return read_bytes(raw, name, id_col=id_col, delimiter=delimiter, encoding=encoding, label_col=label_col)


def quoted_columns(columns) -> str:
    """Column names for a message, each quoted so a space or an empty name shows (``'id', 'class '``)."""
    return ", ".join(repr(str(c)) for c in columns)


def column_suggestion(name: str, columns, flag: str) -> str | None:
    """The fix for a column name that is not there when a column is spelled nearly so: the same name but
    for spaces or case (``'class '``, ``'Class'``), said with the exact flag to pass; else a near-typo
    (:func:`labelguard.errors.close_matches`); else None."""
    import shlex

    from labelguard.errors import close_matches

    columns = [str(c) for c in columns]
    same = [c for c in columns if " ".join(c.split()).casefold() == " ".join(str(name).split()).casefold()]
    if same:
        have = same[0]
        if have.strip() == str(name).strip():
            lead, trail = have != have.lstrip(), have != have.rstrip()
            how = "with a leading and a trailing space" if lead and trail else "with a leading space" if lead else "with a trailing space" if trail else "with other spaces"
        else:
            how = "in other case" if have.casefold() == str(name).casefold() else "in other case and spacing"
        return f"the data has {have!r} ({how}): pass {flag} {shlex.quote(have)}, or fix the header"
    close = close_matches(str(name), columns, n=1)
    if close:
        return f"did you mean {close[0]!r}? pass {flag} {shlex.quote(close[0])}, or {flag} naming an existing column"
    return None


def likely_id_column(frame: pd.DataFrame, exclude=()) -> str | None:
    """The one column that looks like the rows' id: named ``id``, ``uid``, ``uuid``, ``*_id`` or ``*Id``, holding
    integers or text, filled and unique in every row. None when no column, or more than one, looks so."""
    found = []
    for col in frame.columns:
        name = str(col)
        if col in exclude or not re.fullmatch(r"(?i:id|uid|uuid|guid)|.*[_\- ](?i:id)|.*[a-z0-9]I[dD]", name.strip()):
            continue
        values = frame[col]
        kind = pd.api.types.infer_dtype(values, skipna=False)
        if kind in ("integer", "string") and values.notna().all() and values.is_unique:
            found.append(name)
    return found[0] if len(found) == 1 else None


def _header_reads_as_data(columns: list[str], frame: pd.DataFrame | None) -> bool:
    """Whether a header is a row of data: at least half its cells are numbers or a value of their own column below,
    one of them a decimal number or such a value (so a header of years, ``2019,2020,label``, is still a header)."""
    numbers, decimals, own = 0, 0, 0
    for col in columns:
        text = str(col).strip()
        try:
            float(text)
        except ValueError:
            if frame is not None and col in frame.columns and text and (frame[col].astype(str).str.strip() == text).any():
                own += 1
            continue
        numbers += 1
        decimals += not re.fullmatch(r"\d+", text)
    return len(columns) >= 2 and numbers + own >= len(columns) / 2 and decimals + own >= 1


def _composite_key(frame: pd.DataFrame, exclude=()) -> tuple[str, str] | None:
    """The first two integer or text columns that identify every row together though neither does alone (a table keyed
    by shop and order number), or None."""
    cols = [c for c in frame.columns[:30] if c not in exclude and not pd.api.types.is_float_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
            and frame[c].notna().all() and not frame[c].is_unique]
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            if not frame.duplicated(subset=[a, b]).any():
                return a, b
    return None


def missing_column_hint(name: str, columns: list[str], flag: str, frame: pd.DataFrame | None = None, exclude=()) -> BadInput:
    """The error for a column that is not there: the names it has, quoted so spaces show; when the header
    looks like one column holding another delimiter, that; when a column is the name but for spaces, case
    or a typo, that column (:func:`column_suggestion`), rather than sending the user to ``flag``; for the id,
    the one column of ``frame`` that looks like an id (:func:`likely_id_column`, ``exclude`` never)."""
    have = quoted_columns(columns)
    if len(columns) == 1:
        for d in DELIMITERS:
            if d in columns[0]:
                shown = {"\t": "tab"}.get(d, d)
                return BadInput(
                    f"column {name!r} not found: the header reads as one column {columns[0]!r}, so the file looks {shown!r}-delimited",
                    f"pass --delimiter '{shown}', or leave --delimiter out (labelguard detects it)",
                )
    if _header_reads_as_data(columns, frame):  # a file exported without its header line (break-it r11 F3)
        return BadInput(f"column {name!r} not found: the first line reads as a row of data, not a header (have: {have})",
                        "add a header line naming the columns (the first line of a CSV is read as its header)")
    suggestion = column_suggestion(name, columns, flag)
    if suggestion:
        return BadInput(f"column {name!r} not found (have: {have})", suggestion)
    if flag == "--id-col":
        import difflib
        import shlex

        likely = likely_id_column(frame, exclude) if frame is not None else None
        if likely is not None:
            return BadInput(f"column {name!r} not found (have: {have})",
                            f"{likely!r} looks like the id column (unique in every row): pass --id-col {shlex.quote(likely)}")

        close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6) or [c for c in columns if c.casefold().endswith("id")]
        if not close and frame is not None and (pair := _composite_key(frame, exclude)) is not None:  # break-it r12 F16
            return BadInput(f"column {name!r} not found (have: {have}); no single column is unique, but {pair[0]!r} and {pair[1]!r} together are",
                            f"add a column joining them (e.g. {pair[0]}-{pair[1]}) in the source and pass --id-col naming it "
                            "(--id-col auto keys rows by position, which a reordered or deleted row breaks)")
        if not close:  # nothing to name: key the rows by position instead
            return BadInput(f"column {name!r} not found (have: {have})", "pass --id-col auto to key rows by position, or --id-col naming a unique column")
    return BadInput(f"column {name!r} not found (have: {have})", f"pass {flag} naming an existing column")


def parse_timestamps(values: pd.Series, column: str, *, unit: str | None = None, fmt: str | None = None, ids: pd.Series | None = None) -> pd.Series:
    """Parse a timestamp column only when the reading is unambiguous.

    Strings parse as ISO 8601 (or ``fmt``). Integers parse as epoch time in ``unit``; without a
    unit, only when every value falls in one unit's 1990-2100 window (seconds, milliseconds,
    microseconds or nanoseconds — the windows are 1000x apart, so at most one fits).
    Results are timezone-aware UTC: times with an offset are converted, times without one (and
    epoch times) are read as UTC. Text mixing times with and without an offset is refused: the
    naive ones would silently be taken as UTC, and the rows' time order would no longer be the file's.

    Parameters
    ----------
    ids
        The rows' ids as written, aligned with ``values``: an empty cell is named by its id.

    Raises
    ------
    BadInput
        Empty cells (counted, the first named by id), a column that does not parse as declared, or
        integers that fit no single epoch unit.
    """
    empty = values.isna()
    if empty.any():  # an empty cell turned epoch integers into floats ("non-integer numbers"); name it instead
        at = row_named(ids, int(np.flatnonzero(empty.to_numpy())[0]))
        raise BadInput(
            f"timestamp column {column!r} has {int(empty.sum())} empty cell(s), first at {at}",
            f"fill them, or pass --timestamp-col none --ignore-cols {column} to keep {column!r} out of the checks",
        )
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    if not pd.api.types.is_numeric_dtype(values):
        _refuse_mixed_offsets(values, column, ids)
    fix = f"pass --timestamp-unit s|ms|us|ns or --timestamp-format, or --timestamp-col none to keep {column!r} as data"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values)
        if numbers.isna().any() or not np.all(np.mod(numbers, 1) == 0):
            raise BadInput(f"timestamp column {column!r} holds non-integer numbers", fix)
        if unit is None:
            fits = [u for u, (lo, hi) in EPOCH_WINDOWS.items() if numbers.min() >= lo and numbers.max() <= hi]
            if len(fits) != 1:
                raise BadInput(f"timestamp column {column!r} holds integers that are not epoch times of one unit between 1990 and 2100", fix)
            unit = fits[0]
        if unit not in EPOCH_WINDOWS:
            raise BadInput(f"unknown --timestamp-unit {unit!r}", "choose one of: s, ms, us, ns")
        return pd.to_datetime(numbers.astype("int64"), unit=unit, utc=True)
    try:
        parsed = pd.to_datetime(values, format=fmt or "ISO8601", utc=True)
    except (ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        first = first.split(". You might want to try")[0].rstrip(":. ")  # pandas' own hint, cut off by one line
        sample = str(values.dropna().iloc[0]) if values.notna().any() else ""
        day_first = values.astype("string").str.strip().str.fullmatch(_DAY_MONTH).fillna(False).to_numpy(dtype=bool)
        if fmt is None and day_first.any() and not day_first.all():  # two exports joined: no one format reads both (break-it r10 F6)
            a, b = int(np.flatnonzero(~day_first)[0]), int(np.flatnonzero(day_first)[0])
            raise BadInput(
                f"timestamp column {column!r} mixes two ways of writing a date: {row_named(ids, a)} has {str(values.iloc[a])!r}, "
                f"{row_named(ids, b)} has {str(values.iloc[b])!r}",
                f"write every date one way in the source, or --timestamp-col none to keep {column!r} as data",
            ) from None
        if fmt is None and re.fullmatch(_DAY_MONTH, sample):
            sep = re.search(r"[/.-]", sample).group(0)
            clock = " %H:%M:%S" if sample.count(":") == 2 else " %H:%M" if ":" in sample else ""
            day, month = f"'%d{sep}%m{sep}%Y{clock}'", f"'%m{sep}%d{sep}%Y{clock}'"
            fix = (
                f"day and month order is not written in {sample!r}: pass --timestamp-format {day} "
                f"(or {month}), or --timestamp-col none to keep {column!r} as data"
            )
            # a first (or second) number above 12 somewhere says the order: only the format that can read it is offered,
            # not the impossible one beside it (break-it r17 F11)
            fields = values[day_first].astype("string").str.strip().str.extract(r"^(\d{1,2})[/.-](\d{1,2})[/.-]").astype("int64")
            over = [np.flatnonzero(fields[i].to_numpy() > 12) for i in (0, 1)]
            if len(over[0]) != len(over[1]) and (len(over[0]) == 0 or len(over[1]) == 0):
                first_is_day = len(over[0]) > 0
                where = int(over[0 if first_is_day else 1][0])
                shown, number = str(values[day_first].iloc[where]).strip(), int(fields[0 if first_is_day else 1].iloc[where])
                fix = (f"the dates are written {'day' if first_is_day else 'month'} first ({shown!r}: {number} is no month): pass --timestamp-format "
                       f"{day if first_is_day else month}, or --timestamp-col none to keep {column!r} as data")
        raise BadInput(f"timestamp column {column!r} does not parse as {fmt or 'ISO 8601'}: {first}", fix) from None
    return parsed


# A date written day and month first (01/02/2026, 1.2.2026 10:30): which is the day, the text does not say.
_DAY_MONTH = r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}( \d{1,2}:\d{2}(:\d{2})?)?"

# A UTC offset or "Z" after a clock time (a bare date's "-01" is not an offset).
_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")


def _refuse_mixed_offsets(values: pd.Series, column: str, ids: pd.Series | None) -> None:
    text = values.astype("string").str.strip()
    zoned = text.str.contains(_OFFSET, regex=True).fillna(False).astype(bool).to_numpy()
    if zoned.all() or not zoned.any():
        return
    odd = int(np.flatnonzero(zoned != zoned[0])[0])

    raise BadInput(
        f"timestamp column {column!r} mixes times with and without a UTC offset: {row_named(ids, odd)} has {text.iloc[odd]!r}, {row_named(ids, 0)} has {text.iloc[0]!r}",
        "write every time with its offset (or every time in UTC without one), or --timestamp-col none --ignore-cols " + column,
    )


def row_named(ids: pd.Series | None, position: int) -> str:
    """How a message names the row at ``position`` (0-based): by its id as written, or by its position
    when it has no id, so pandas' ``<NA>``/``nan``/``None`` never reads as an id."""
    if ids is None:
        return f"row {position}"
    value = ids.iloc[position]
    return f"row {position} (its id is empty too)" if pd.isna(value) else f"id {_written(value)!r}"


def _written(value):
    from labelguard.tasks.manifest import to_py

    return to_py(value)


def write_csv_like(original: bytes, dialect: CsvDialect, label_col: str, new_labels: dict[int, str], cells: list[str] | None = None) -> bytes:
    """Rewrite CSV bytes changing only the label cells of the given data rows (0-based, as
    :func:`read_csv_bytes` reads them), in the file's own delimiter, encoding, byte-order mark and line ending.

    ``cells``, when given, is every data row's label in the same canonical spelling as ``new_labels``
    (after the change): a new label is then written the way the file's unchanged rows write that class
    (``1.0`` where the column says ``1.0``, ``001`` where it says ``001``), so the edit does not stand out.
    """
    text = original.decode(dialect.codec)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter))
    first = 1 if dialect.sep_hint else 0  # Excel's "sep=;" line stays where it is
    header = rows[first]
    col = header.index(label_col)
    # data row i is the i-th record the reader kept: blank lines and rows empty in every column are skipped there too
    kept = [r for r in range(first + 1, len(rows)) if not _skipped_by_pandas(rows[r]) and any(cell != "" for cell in rows[r])]
    spelled: dict[str, str] = {}
    if cells is not None:
        for i, cell in enumerate(cells):
            if i not in new_labels:
                spelled.setdefault(cell, rows[kept[i]][col])
    for i, value in new_labels.items():
        rows[kept[i]][col] = spelled.get(value, value)
    sink = io.StringIO(newline="")
    csv.writer(sink, delimiter=dialect.delimiter, lineterminator=dialect.lineterminator).writerows(rows)
    out = sink.getvalue()
    if not text.endswith(("\n", "\r")):
        out = out[: -len(dialect.lineterminator)]
    return (codecs.BOM_UTF8 if dialect.bom else b"") + out.encode(dialect.encoding)
