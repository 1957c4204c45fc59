"""The review schema: unique ids, finite float features, labels in the declared class set, timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine

from labelguard.tasks.manifest import ColumnSpec

# the largest feature magnitude the guards compute with: its square, summed over 100 million rows, stays finite in float64
MAX_ABS_FEATURE = 1e150


def review_schema(spec: ColumnSpec) -> pa.DataFrameSchema:
    """Build the pandera schema for a dataset laid out as ``spec`` says.

    The default spec is the synthetic review set; user data with other column names gets the
    same checks on its own columns.
    """
    finite = pa.Check(lambda s: np.isfinite(s), element_wise=False, error="finite")
    # NaN and inf are the check above's; a finite 1e308 passed it, and standardizing squared it to inf (break-it r9 F2)
    in_range = pa.Check(lambda s: ~np.isfinite(s) | (np.abs(s) < MAX_ABS_FEATURE), element_wise=False, error="magnitude")
    columns: dict[str, pa.Column] = {
        spec.id_col: pa.Column(nullable=False, unique=True, coerce=False),
        spec.label_col: pa.Column(nullable=False, checks=pa.Check.isin(list(spec.classes))),
    }
    for col in spec.feature_cols:
        columns[col] = pa.Column(float, checks=[finite, in_range], nullable=False, coerce=True)
    if spec.timestamp_col:
        # UTC-aware: pandera's plain DateTime coerced "2026-01-01 00:00+01:00" to a naive 2025-12-31 23:00,
        # dropping the zone; naive input (already read as UTC) is localized, aware input converted
        columns[spec.timestamp_col] = pa.Column(
            pandas_engine.DateTime(tz="UTC"), nullable=False, coerce=True, required=True
        )
    return pa.DataFrameSchema(columns, strict=False, name="reviews")


def validate_reviews(frame: pd.DataFrame, spec: ColumnSpec, schema: pa.DataFrameSchema | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Validate lazily (against ``review_schema(spec)`` unless a variant is given): every failure at once.

    Returns
    -------
    (validated frame or the input, failure cases or None). Failure cases carry ``column``,
    ``check``, ``failure_case`` and the offending row ``index``.
    """
    try:
        return (schema or review_schema(spec)).validate(frame, lazy=True), None
    except pa.errors.SchemaErrors as err:
        return frame, err.failure_cases
