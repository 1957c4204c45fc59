"""Where reviews come from before ingest: the synthetic generator or a user's CSV/Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelguard.errors import BadInput, SchemaViolation
from labelguard.schemas.reviews import validate_reviews
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import FEATURES, make_reviews

SYNTHETIC = "synthetic"


def read_table(path: Path) -> pd.DataFrame:
    """Read a local CSV or Parquet file, by suffix."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"no such file: {path}", "pass --source synthetic or an existing .csv/.parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any parser failure is the user's file, reported in one line
        raise BadInput(f"cannot read {path}: {exc}".splitlines()[0], "check that the file is valid CSV/Parquet") from None
    raise BadInput(f"unsupported file type {suffix!r} for {path}", "use a .csv or .parquet file")


def infer_spec(
    frame: pd.DataFrame,
    *,
    id_col: str,
    label_col: str,
    timestamp_col: str | None,
    positive_class: Any = None,
    text_cols: list[str] | None = None,
    ignore_cols: list[str] = (),
    domain: str | None = None,
    require_positive: bool = False,
) -> ColumnSpec:
    """Derive the column spec of user data: numeric columns are features, free-text columns are
    featurized (:mod:`labelguard.tasks.features`), the rest is ignored; the positive class is the
    one named or the unambiguous default.

    Raises
    ------
    BadInput
        Missing id/label column, a continuous label column, no features, an unknown
        ``positive_class``, or (``require_positive``) two classes neither of which is
        unambiguously positive.
    """
    cols = list(map(str, frame.columns))
    for name, flag in ((id_col, "--id-col"), (label_col, "--label-col")):
        if name not in frame.columns:
            raise BadInput(f"column {name!r} not found (have: {', '.join(cols)})", f"pass {flag} naming an existing column")
    labels = frame[label_col]
    if pd.api.types.is_float_dtype(labels) and not np.all(np.mod(labels.dropna(), 1) == 0):
        raise BadInput(f"label column {label_col!r} holds continuous values", "label flipping needs a categorical label column")
    if timestamp_col is not None and timestamp_col not in frame.columns:
        timestamp_col = None
    from labelguard.tasks.classes import resolve_positive
    from labelguard.tasks.features import choose_columns, featurizer_config

    features, texts, _ = choose_columns(frame, reserved=(id_col, label_col, timestamp_col), text_cols=text_cols, ignore_cols=ignore_cols)
    if not features and not texts:
        raise BadInput("no feature columns found (numeric or free text)", "the data needs a numeric column or a text column (--text-cols)")
    classes = tuple(sorted(labels.dropna().unique().tolist(), key=lambda v: (str(type(v)), v)))
    if len(classes) < 2:
        raise BadInput(f"label column {label_col!r} has fewer than two classes", "a classifier needs at least two classes")
    positive = resolve_positive(classes, positive_class, required=require_positive and len(classes) == 2)
    return ColumnSpec(
        id_col=id_col, label_col=label_col, feature_cols=features, timestamp_col=timestamp_col, classes=classes,
        positive_class=positive, text_cols=texts, featurizer=featurizer_config(texts), domain=domain,
    )


def load_source(
    source: str,
    *,
    rows: int = 5000,
    seed: int = 0,
    id_col: str = "review_id",
    label_col: str = "label",
    timestamp_col: str | None = "created_at",
    synthetic: dict[str, float] | None = None,
    positive_class: Any = None,
    text_cols: list[str] | None = None,
    ignore_cols: list[str] = (),
    domain: str | None = None,
) -> tuple[pd.DataFrame, ColumnSpec, dict[str, Any]]:
    """Load and validate reviews; nothing is written.

    Returns
    -------
    (frame, spec, provenance) where provenance goes into the signed manifest.

    Raises
    ------
    SchemaViolation
        The data breaks the review schema; the error carries pandera's failure cases.
    """
    if source == SYNTHETIC:
        params = dict(synthetic or {})
        frame = make_reviews(rows, seed=seed, **params)
        from labelguard.tasks.classes import resolve_positive

        spec = ColumnSpec(feature_cols=FEATURES, positive_class=resolve_positive((0, 1), positive_class), domain=domain or "reviews")
        meta: dict[str, Any] = {"kind": SYNTHETIC, "rows": rows, "seed": seed, **params}
    else:
        frame = read_table(Path(source))
        spec = infer_spec(
            frame, id_col=id_col, label_col=label_col, timestamp_col=timestamp_col, positive_class=positive_class,
            text_cols=text_cols, ignore_cols=ignore_cols, domain=domain, require_positive=True,
        )
        meta = {"kind": "file", "path": str(Path(source).resolve()), "rows": len(frame)}
    validated, failures = validate_reviews(frame, spec)
    if failures is not None:
        first = failures.iloc[0]
        raise SchemaViolation(
            f"{len(failures)} schema failure(s), first: column {first['column']!r} check {first['check']!r} "
            f"value {first['failure_case']!r} at row {first['index']}",
            "fix the source data (ids unique, features finite numbers, labels present)",
            failure_cases=failures,
        )
    return validated, spec, meta


def split_holdout(frame: pd.DataFrame, spec: ColumnSpec, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve a stratified trusted holdout off the data, seeded; both parts keep their row order."""
    if not 0.0 < fraction < 1.0:
        raise BadInput(f"holdout fraction must be in (0, 1), got {fraction}", "pass e.g. --holdout-fraction 0.2")
    rng = np.random.default_rng([seed, 0x401D])
    is_holdout = np.zeros(len(frame), dtype=bool)
    labels = frame[spec.label_col].to_numpy()
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        k = int(round(fraction * len(idx)))
        is_holdout[rng.choice(idx, size=k, replace=False)] = True
    return frame[~is_holdout].reset_index(drop=True), frame[is_holdout].reset_index(drop=True)
