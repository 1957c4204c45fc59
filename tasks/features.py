"""Feature matrices: numeric columns as they are, free-text columns through TF-IDF and truncated SVD.

One function, :func:`feature_matrix`, builds the matrix every model, guard, attack and plot uses.
Text is featurized by a TF-IDF vectorizer per text column (scikit-learn ``TfidfVectorizer``), the
columns stacked and reduced to a dense matrix by ``TruncatedSVD`` with a fixed ``random_state``.
The featurizer never sees a label, so flipped labels cannot steer it. It is fitted on the text of
every row being compared (the dataset and its trusted holdout/reference, each row once, in id
order): fitted on the trusted rows alone it featurizes them in-sample and everything else
out-of-sample, and two-sample guards read that asymmetry as a shift (measured on the drug reviews:
``class_conditional`` fired on clean data in 2 of 4 splits, p down to 6e-7). Its configuration is
recorded in the column spec (so in the signed manifest) and refitted the same way wherever the data
are read again.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
import pandas as pd

from labelguard.errors import BadInput
from labelguard.tasks.manifest import ColumnSpec

METHOD = "tfidf-svd"
DEFAULT_PARAMS: dict[str, Any] = {
    "ngram_range": [1, 2],
    "min_df": 2,
    "max_features": 20000,
    "sublinear_tf": True,
    "n_components": 50,
    "random_state": 0,
}
# A column is taken as free text when its values are long and mostly distinct (not a category).
TEXT_MIN_MEDIAN_CHARS = 20
TEXT_MIN_MEDIAN_WORDS = 3
TEXT_MIN_UNIQUE_SHARE = 0.5
MEMO_SIZE = 4


FITTED_ON = "text of the dataset and its trusted rows (labels never used)"


def featurizer_config(text_cols: Sequence[str], fitted_on: str = FITTED_ON) -> dict[str, Any] | None:
    """The featurizer record that goes into the column spec (and so into the signed manifest)."""
    if not text_cols:
        return None
    return {"method": METHOD, "text_cols": list(text_cols), "params": dict(DEFAULT_PARAMS), "fitted_on": fitted_on}


def _is_text_dtype(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)


def looks_like_text(series: pd.Series) -> bool:
    """Long, mostly distinct string values: free text rather than a category, a date or a code."""
    if not _is_text_dtype(series):
        return False
    values = series.dropna()
    values = values[values.map(lambda v: isinstance(v, str))]
    if len(values) == 0 or len(values) < 0.5 * len(series):
        return False
    lengths = values.str.len()
    words = values.str.split().str.len()
    unique_share = values.nunique() / len(values)
    return bool(lengths.median() >= TEXT_MIN_MEDIAN_CHARS and words.median() >= TEXT_MIN_MEDIAN_WORDS and unique_share >= TEXT_MIN_UNIQUE_SHARE)


def _rejoined(names: list[str], have: list[str]) -> list[str]:
    """``names`` as split at commas, with runs of pieces that join (by ", " or ",") into an existing column's name that
    none of them is on its own joined back: `--ignore-cols "Preis, EUR"` names the column ``Preis, EUR``."""
    out, i = [], 0
    while i < len(names):
        if names[i] not in have:
            joined = next(((j, sep.join(names[i:j])) for j in range(len(names), i + 1, -1) for sep in (", ", ",")
                           if sep.join(names[i:j]) in have), None)
            if joined is not None:
                out.append(joined[1])
                i = joined[0]
                continue
        out.append(names[i])
        i += 1
    return out


def named_columns(names: Sequence[str], have: list[str]) -> list[str]:
    """Column names as the CLI split them at commas (each piece with its own spaces), as the columns they name: pieces
    that join into a column's name are that column (:func:`_rejoined`); a piece that is a column's name only with its
    spaces is that name (``"a, b"`` names ``b``); a piece that is no name either way is returned stripped (refused by
    the caller). A header cell with a trailing space is named by passing it quoted (``--ignore-cols 'polarity '``),
    as the refusal says (break-it r17 F12: the CLI stripped that space, so the fix it offered was refused again)."""
    return [n if n in have else n.strip() for n in _rejoined(list(names), have)]


def is_row_number(name: Any, series: pd.Series) -> bool:
    """The column is the row index a writer added: no header (pandas names it ``Unnamed: N``) and integers that only
    increase, as ``DataFrame.to_csv()`` with its default ``index=True`` and R's ``write.csv`` write them.

    Taken as a feature it fails every later batch: its row numbers differ from the trusted rows', and
    ``class_conditional`` fired on clean data ("mean shift 3.5 sd", break-it r17 F2). Parquet keeps a pandas index as
    metadata (``__index_level_0__``), which is never a feature either.
    """
    import re

    if not re.fullmatch(r"Unnamed: \d+", str(name)) or len(series) < 2 or not pd.api.types.is_integer_dtype(series) or series.isna().any():
        return False
    values = series.to_numpy(dtype="int64")
    return bool((np.diff(values) > 0).all())


ROW_NUMBER_WHY = "row numbers a CSV writer added: no header, values only increasing; never a feature"


def choose_columns(
    frame: pd.DataFrame,
    *,
    reserved: Sequence[str],
    text_cols: Sequence[str] | None = None,
    ignore_cols: Sequence[str] = (),
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Split the data's columns into numeric features, free-text columns and ignored columns.

    Parameters
    ----------
    frame
        The source data.
    reserved
        Id, label and timestamp columns: never features.
    text_cols
        Text columns as the user named them (``--text-cols``); None = detect (:func:`looks_like_text`).
    ignore_cols
        Columns never used (``--ignore-cols``).

    Returns
    -------
    (numeric feature columns, text columns, ignored columns), each in the frame's column order.

    Raises
    ------
    BadInput
        A named column does not exist, a named text column is not text or is empty in every row.
    """
    have = list(map(str, frame.columns))
    # the CLI splits the options at commas, so a column named "Preis, EUR" arrived as 'Preis' and 'EUR': pieces that
    # make an existing column's name again are that column (break-it r15 F10)
    text_cols = None if text_cols is None else named_columns(text_cols, have)
    ignore_cols = named_columns(ignore_cols, have)
    for flag, names in (("--text-cols", text_cols or ()), ("--ignore-cols", ignore_cols)):
        for name in names:
            if name not in frame.columns:
                from labelguard.tasks.readers import column_suggestion, quoted_columns

                raise BadInput(f"{flag} names column {name!r}, which is not in the data (have: {quoted_columns(have)})",
                               column_suggestion(name, have, flag) or f"pass {flag} naming existing columns")
            if name in reserved:
                raise BadInput(f"{flag} names {name!r}, the id, label or timestamp column", f"leave {name!r} out of {flag}")
    if text_cols is not None:
        for name in text_cols:
            col = frame[name]
            if not _is_text_dtype(col):
                raise BadInput(f"text column {name!r} holds {col.dtype} values, not text", f"leave {name!r} out of --text-cols")
            if col.fillna("").astype(str).str.strip().eq("").all():
                raise BadInput(f"text column {name!r} is empty in every row", f"leave {name!r} out of --text-cols, or fill it")
    ignored = set(ignore_cols)
    numeric, text, skipped = [], [], []
    for col in frame.columns:
        if col in reserved:
            continue
        series = frame[col]
        if col in ignored or is_row_number(col, series):
            skipped.append(col)
        elif text_cols is not None and col in text_cols:
            text.append(col)
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            numeric.append(col)
        elif text_cols is None and looks_like_text(series):
            text.append(col)
        else:
            skipped.append(col)
    return tuple(numeric), tuple(text), tuple(skipped)


def describe_columns(frame: pd.DataFrame, spec: ColumnSpec) -> str:
    """One line saying which columns were taken as features, text and ignored (for ingest to print)."""
    used = {spec.id_col, spec.label_col, spec.timestamp_col, *spec.feature_cols, *spec.text_cols}
    ignored = [c for c in frame.columns if c not in used]
    parts = [f"features: {', '.join(spec.feature_cols) or 'none'}"]
    if spec.text_cols:
        params = (spec.featurizer or {}).get("params", DEFAULT_PARAMS)
        parts.append(f"text (TF-IDF + SVD to {params['n_components']} dimensions, fitted on the {(spec.featurizer or {}).get('fitted_on', FITTED_ON)}): {', '.join(spec.text_cols)}")
    reading = frame.attrs.get("reading", {})
    why = reading.get("unparsed", {})  # columns that look like numbers but were not read as numbers, and why
    why = {**why, **{c: ROW_NUMBER_WHY for c in ignored if c not in why and is_row_number(c, frame[c])}}
    parts.append(f"ignored: {', '.join(f'{c} ({why[c]})' if c in why else str(c) for c in ignored) or 'none'}")
    if reading.get("dropped"):
        n = len(reading["dropped"])
        parts.append(f"dropped: {n} empty column{'s' if n > 1 else ''} without a header (trailing delimiters)")
    elif reading.get("trailing"):
        parts.append("dropped: empty cells past the header (trailing delimiters)")
    return "; ".join(parts)


@dataclass(frozen=True)
class FittedText:
    """TF-IDF vectorizers (one per text column) and the SVD that reduces their stacked output."""

    text_cols: tuple[str, ...]
    vectorizers: tuple[Any, ...]
    svd: Any
    rows: int  # how many rows' text it was fitted on
    # The guards featurize the same few frames many times (15 times per verify): the last results,
    # keyed by the frame itself (a weak reference, so no reuse of a dead frame's id) and a hash of its text.
    _memo: list = field(default_factory=list, compare=False, repr=False)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        from scipy import sparse

        digest = int(pd.util.hash_pandas_object(frame[list(self.text_cols)], index=False).sum())
        for ref, seen, matrix in self._memo:
            if ref() is frame and seen == digest:
                return matrix.copy()
        blocks = [v.transform(_texts(frame, c)) for c, v in zip(self.text_cols, self.vectorizers)]
        matrix = np.asarray(self.svd.transform(sparse.hstack(blocks).tocsr()), dtype=np.float64)
        self._memo[:] = [*self._memo[-(MEMO_SIZE - 1):], (weakref.ref(frame), digest, matrix)]
        return matrix.copy()

    def __getstate__(self) -> dict:  # weak references do not pickle; the memo is only a cache
        return {**self.__dict__, "_memo": []}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def _texts(frame: pd.DataFrame, col: str) -> list[str]:
    return frame[col].fillna("").astype(str).tolist()


def fit_text(trusted: pd.DataFrame, spec: ColumnSpec) -> FittedText | None:
    """Fit the spec's text featurizer on the text of ``trusted``; None when the spec has no text columns.

    Parameters
    ----------
    trusted
        Rows whose text the featurizer learns from, shape (n_rows, ...); labels are never read.
    spec
        Names the text columns; its ``featurizer`` record gives the parameters.

    Returns
    -------
    FittedText whose ``transform`` gives (n_rows, n_components) float64, n_components at most
    ``params["n_components"]`` (fewer when the vocabulary or the rows are fewer).

    Raises
    ------
    BadInput
        A text column is missing, or empty in every trusted row.
    """
    if not spec.text_cols:
        return None
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    params = {**DEFAULT_PARAMS, **((spec.featurizer or {}).get("params") or {})}
    vectorizers, blocks = [], []
    for col in spec.text_cols:
        if col not in trusted.columns:
            raise BadInput(f"text column {col!r} is not in the data", "re-ingest with --text-cols naming existing columns")
        texts = _texts(trusted, col)
        min_df = params["min_df"] if len(texts) >= 4 * params["min_df"] else 1
        vec = TfidfVectorizer(
            ngram_range=tuple(params["ngram_range"]), min_df=min_df, max_features=params["max_features"],
            sublinear_tf=params["sublinear_tf"], dtype=np.float64,
        )
        try:
            blocks.append(vec.fit_transform(texts))
        except ValueError:  # empty vocabulary: nothing but blanks or stop characters
            raise BadInput(f"text column {col!r} is empty in every trusted row", f"leave {col!r} out of --text-cols") from None
        vectorizers.append(vec)
    stacked = sparse.hstack(blocks).tocsr()
    k = max(1, min(params["n_components"], stacked.shape[1] - 1, stacked.shape[0] - 1))
    svd = TruncatedSVD(n_components=k, random_state=params["random_state"]).fit(stacked)
    return FittedText(tuple(spec.text_cols), tuple(vectorizers), svd, len(trusted))


def with_featurizer(spec: ColumnSpec, *frames: pd.DataFrame | None) -> ColumnSpec:
    """``spec`` carrying its text featurizer, fitted on the text of ``frames`` (unchanged without text).

    Parameters
    ----------
    spec
        Names the id and text columns.
    *frames
        The dataset and its trusted rows (holdout, reference); None entries are skipped. Each id is
        used once and rows are sorted by id, so the same rows give the same featurizer whatever the
        order or overlap of the frames (verify and pipeline refit the same one).
    """
    present = [f[[spec.id_col, *spec.text_cols]] for f in frames if f is not None]
    if not spec.text_cols or not present:
        return spec
    rows = pd.concat(present, ignore_index=True).drop_duplicates(subset=[spec.id_col], keep="first")
    rows = rows.iloc[np.argsort(rows[spec.id_col].astype(str).to_numpy(), kind="stable")]
    return replace(spec, fitted=fit_text(rows, spec))


def feature_matrix(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    """The model-ready feature matrix of ``frame``.

    Parameters
    ----------
    frame
        Rows to featurize, shape (n_rows, ...).
    spec
        The numeric feature columns, the text columns and, once fitted on trusted rows
        (:func:`with_featurizer`), the text featurizer. Text without a fitted featurizer is
        featurized by one fitted on ``frame`` itself (the attacker's view: no trusted rows).

    Returns
    -------
    ndarray, shape (n_rows, n_numeric + n_components), float64: numeric columns first, in the
    spec's order, then the text components.
    """
    numeric = frame[list(spec.feature_cols)].to_numpy(dtype=np.float64)
    _refuse_huge(numeric, spec)
    if not spec.text_cols:
        return numeric
    fitted = spec.fitted if spec.fitted is not None else fit_text(frame, spec)
    return np.hstack([numeric.reshape(len(frame), -1), fitted.transform(frame)])


def _refuse_huge(numeric: np.ndarray, spec: ColumnSpec) -> None:
    """Data signed (or sealed) before the schema bounded feature magnitudes: 1e308 squared to inf inside the
    first scaler, an "unexpected ValueError: Input X contains NaN" (break-it r9 F2); one line instead."""
    from labelguard.schemas.reviews import MAX_ABS_FEATURE

    if numeric.size == 0:
        return
    big = np.abs(numeric) >= MAX_ABS_FEATURE
    if big.any():
        row, col = map(int, np.argwhere(big)[0])
        name = list(spec.feature_cols)[col]
        raise BadInput(f"feature {name!r} holds {numeric[row, col]:g}, too large to compute with (every value must be below 1e150 in size)",
                       f"rescale {name!r} (e.g. in other units) and ingest again, or leave it out with --ignore-cols {name}")


def raw_feature_cols(spec: ColumnSpec) -> list[str]:
    """The columns the features come from, as stored (numeric and text): what an exact duplicate shares."""
    return [*spec.feature_cols, *spec.text_cols]
