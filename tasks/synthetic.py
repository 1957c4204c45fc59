"""Synthetic customer reviews: two text-derived sentiment signals, two separable clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelguard.errors import BadInput

FEATURES = ("polarity", "intensity")
START = pd.Timestamp("2026-01-01", tz="UTC")
MAX_ROWS = 100_000_000  # ten times bench/perf_verify.py's 10 M; about 5 GB of frame


def make_reviews(
    rows: int = 5000,
    *,
    separation: float = 5.0,
    spread: float = 1.0,
    positive_share: float = 0.5,
    seed: int | np.random.Generator = 0,
    n_classes: int = 2,
) -> pd.DataFrame:
    """Generate reviews whose features cluster by sentiment.

    Parameters
    ----------
    rows
        Number of reviews.
    separation
        Distance between neighbouring class centres, in units of ``spread``-scaled features.
        At the default 5.0 with ``spread=1`` the Bayes error is about 0.6 %.
    spread
        Standard deviation of each feature within a class.
    positive_share
        Expected share of positive reviews (binary case only).
    seed
        Seed or Generator; the only source of randomness.
    n_classes
        2 for negative/positive; more gives classes on a line (for multi-class drills).

    Returns
    -------
    DataFrame with ``review_id``, ``label`` (0 negative, 1 positive, ...), the two
    features and ``created_at``, in time order.
    """
    if rows < 2:
        raise BadInput(f"rows must be at least 2, got {rows}", "pass --rows 2 or more")
    if rows > MAX_ROWS:  # 10**13 was "unexpected MemoryError: Unable to allocate 72.8 TiB" (break-it r9 F7)
        raise BadInput(f"rows must be at most {MAX_ROWS:,}, got {rows:,}", f"pass --rows {MAX_ROWS} or fewer")
    if not 0.0 < positive_share < 1.0:
        raise BadInput(f"positive share must be in (0, 1), got {positive_share}", "pick e.g. 0.5")
    if spread <= 0 or separation < 0:
        raise BadInput("spread must be > 0 and separation >= 0", "use the defaults 1.0 and 5.0")
    rng = np.random.default_rng(seed)
    if n_classes == 2:
        labels = (rng.random(rows) < positive_share).astype(np.int64)
    else:
        labels = rng.integers(0, n_classes, rows).astype(np.int64)
    # Centres sit on the diagonal, `separation` apart, centred on the origin.
    direction = np.array([1.0, 1.0]) / np.sqrt(2.0)
    offsets = (labels - (n_classes - 1) / 2.0) * separation
    features = rng.normal(0.0, spread, size=(rows, 2)) + offsets[:, None] * direction
    seconds = np.sort(rng.uniform(0, 30 * 24 * 3600, rows))
    return pd.DataFrame(
        {
            "review_id": [f"rev-{i:07d}" for i in range(rows)],
            "label": labels,
            FEATURES[0]: features[:, 0],
            FEATURES[1]: features[:, 1],
            "created_at": (START + pd.to_timedelta(seconds, unit="s")).floor("s"),
        }
    )
