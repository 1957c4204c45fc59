"""Label-flipping strategies (red team): each picks rows and new labels, never touches features."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from labelguard.errors import BadInput, UnknownName
from labelguard.tasks.manifest import ColumnSpec


@dataclass(frozen=True)
class AttackInput:
    """What a strategy sees: features, labels, class set, how many flips it may spend, and randomness."""

    X: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    budget: int
    rng: np.random.Generator


Strategy = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class AttackSpec:
    name: str
    fn: Strategy
    description: str


REGISTRY: dict[str, AttackSpec] = {}


def register_attack(name: str) -> Callable[[Strategy], Strategy]:
    """Register a strategy ``fn(inp: AttackInput, **options) -> (positions, new_labels)``."""

    def decorate(fn: Strategy) -> Strategy:
        doc = (fn.__doc__ or "").strip().splitlines()
        REGISTRY[name] = AttackSpec(name=name, fn=fn, description=doc[0] if doc else name)
        return fn

    return decorate


def get_attack(name: str) -> AttackSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownName("attack", name, list(REGISTRY)) from None


def _other_class(y: np.ndarray, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly chosen class different from each entry of ``y``."""
    codes = np.searchsorted(classes, y)
    shift = rng.integers(1, len(classes), size=len(y))
    return classes[(codes + shift) % len(classes)]


@register_attack("random")
def random_flips(inp: AttackInput) -> tuple[np.ndarray, np.ndarray]:
    """Uniform flips, either way (to a random other class when there are more than two)."""
    positions = inp.rng.choice(len(inp.y), size=inp.budget, replace=False)
    return positions, _other_class(inp.y[positions], inp.classes, inp.rng)


@register_attack("targeted")
def targeted_flips(
    inp: AttackInput,
    *,
    source: Any = None,
    target: Any = None,
    flip_matrix: dict[Any, dict[Any, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Class-conditional flips: source class to target class (default positive to negative).

    ``flip_matrix`` maps source class to {target class: share of the budget}; shares must sum to
    at most 1.
    """
    if flip_matrix is None:
        src = inp.classes[-1] if source is None else _as_class(source, inp.classes)
        dst = inp.classes[0] if target is None else _as_class(target, inp.classes)
        if src == dst:
            raise BadInput(f"targeted source and target are both {src!r}", "pick two different classes")
        flip_matrix = {src: {dst: 1.0}}
    cells = [(_as_class(s, inp.classes), _as_class(t, inp.classes), float(w)) for s, row in flip_matrix.items() for t, w in row.items()]
    total = sum(w for *_, w in cells)
    if total <= 0 or total > 1 + 1e-9:
        raise BadInput(f"flip matrix shares sum to {total:g}", "make the shares sum to a value in (0, 1]")
    # Largest-remainder split of the budget across cells so the total is exact.
    raw = np.array([w / total * inp.budget for *_, w in cells])
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts))[: inp.budget - counts.sum()]] += 1
    positions, labels = [], []
    taken = np.zeros(len(inp.y), dtype=bool)
    for (src, dst, _), k in zip(cells, counts):
        pool = np.flatnonzero((inp.y == src) & ~taken)
        if k > len(pool):
            raise BadInput(
                f"targeted needs {k} rows of class {src!r} but only {len(pool)} are available",
                "lower --rate or choose another source class",
            )
        pick = inp.rng.choice(pool, size=k, replace=False)
        taken[pick] = True
        positions.append(pick)
        labels.append(np.full(k, dst, dtype=inp.y.dtype))
    return np.concatenate(positions), np.concatenate(labels)


def _as_class(value: Any, classes: np.ndarray) -> Any:
    for c in classes:
        if c == value or str(c) == str(value):
            return c
    raise BadInput(f"{value!r} is not one of the classes {list(classes)}", "name an existing class")


@dataclass(frozen=True)
class FlipResult:
    """A poisoned copy and the ground truth of what changed (kept out of the store)."""

    frame: pd.DataFrame
    flipped: pd.DataFrame  # columns: id, old, new
    attack: str
    rate: float
    seed: int
    budget: int
    note: str = ""

    @property
    def flipped_ids(self) -> list:
        return self.flipped["id"].tolist()

    def truth(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "rate": self.rate,
            "seed": self.seed,
            "budget": self.budget,
            "note": self.note,
            "flipped": [
                {"id": _py(i), "old": _py(o), "new": _py(n)}
                for i, o, n in self.flipped[["id", "old", "new"]].itertuples(index=False)
            ],
        }

    def truth_json(self) -> str:
        return json.dumps(self.truth(), indent=1)


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def check_rate(rate: float) -> float:
    if not (0.0 <= float(rate) <= 1.0) or np.isnan(rate):
        raise BadInput(f"rate must be within [0, 1], got {rate}", "pass e.g. --rate 0.2")
    return float(rate)


def flip_labels(
    frame: pd.DataFrame,
    spec: ColumnSpec,
    *,
    attack: str,
    rate: float,
    seed: int,
    **options: Any,
) -> FlipResult:
    """Apply a registered strategy to a copy of ``frame``.

    Parameters
    ----------
    frame
        The dataset; never modified.
    spec
        Which columns are id, label and features, and the class set.
    attack
        Registered strategy name.
    rate
        Share of rows to flip; the budget is ``round(rate * len(frame))``.
    seed
        Seed for the strategy's ``numpy.random.Generator``.
    **options
        Strategy options (keyword-only), e.g. ``source``/``target`` for ``targeted``.

    Returns
    -------
    FlipResult with the poisoned copy and the exact flipped ids.

    Raises
    ------
    BadInput
        Unknown attack, rate outside [0, 1], a missing or non-categorical label column, or a budget
        the strategy cannot spend.
    """
    strategy = get_attack(attack)
    rate = check_rate(rate)
    for col in (spec.label_col, spec.id_col, *spec.feature_cols):
        if col not in frame.columns:
            raise BadInput(f"column {col!r} not in the data (have: {', '.join(map(str, frame.columns))})", "pass --label-col/--id-col naming existing columns")
    y = frame[spec.label_col].to_numpy()
    if pd.api.types.is_float_dtype(y.dtype) and not np.all(np.mod(y, 1) == 0):
        raise BadInput(f"label column {spec.label_col!r} holds continuous values", "label flipping needs a categorical label column")
    classes = np.unique(np.asarray(list(spec.classes) if spec.classes else y))
    if len(classes) < 2:
        raise BadInput(f"label column {spec.label_col!r} has fewer than two classes", "flipping needs at least two classes")
    X = frame[list(spec.feature_cols)].to_numpy(dtype=float)
    budget = int(round(rate * len(frame)))
    inp = AttackInput(X=X, y=y, classes=classes, budget=budget, rng=np.random.default_rng(seed))
    positions, new = strategy.fn(inp, **options) if budget else (np.array([], dtype=int), y[:0])
    positions = np.asarray(positions, dtype=int)
    new = np.asarray(new, dtype=y.dtype)
    if len(np.unique(positions)) != len(positions) or len(positions) > budget or np.any(new == y[positions]):
        raise AssertionError(f"attack {attack!r} broke the strategy contract")  # a bug in the strategy, not bad input
    poisoned = frame.copy()
    labels = poisoned[spec.label_col].to_numpy(copy=True)
    labels[positions] = new
    poisoned[spec.label_col] = labels
    order = np.argsort(positions, kind="stable")
    flipped = pd.DataFrame(
        {"id": frame[spec.id_col].to_numpy()[positions][order], "old": y[positions][order], "new": new[order]}
    )
    note = "" if len(positions) == budget else f"spent {len(positions)} of {budget} flips"
    return FlipResult(poisoned, flipped, attack, rate, int(seed), budget, note)
