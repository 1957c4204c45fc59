"""The pipeline's preprocessing step, chosen by name: the honest one, or a compromised one that flips labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from labelguard.errors import UnknownName
from labelguard.tasks import attacks
from labelguard.tasks.attacks import FlipResult, check_rate
from labelguard.tasks.manifest import ColumnSpec

HONEST = "honest"


@dataclass(frozen=True)
class TransformOutput:
    frame: pd.DataFrame
    truth: FlipResult | None = None  # ground truth for scoring only; never written to the store


@dataclass(frozen=True)
class TransformSpec:
    """A registered transform and what it declares about labels (the label contract's input)."""

    name: str
    fn: Callable[..., TransformOutput]
    changes_labels: bool
    description: str


REGISTRY: dict[str, TransformSpec] = {}


def register_transform(name: str, *, changes_labels: bool = False, description: str = ""):
    def decorate(fn):
        REGISTRY[name] = TransformSpec(name, fn, changes_labels, description or (fn.__doc__ or name).strip().splitlines()[0])
        return fn

    return decorate


def preprocess(frame: pd.DataFrame, spec: ColumnSpec) -> pd.DataFrame:
    """The honest preprocessing: features as float64, rows in time order. Returns a new frame."""
    out = frame.astype({c: "float64" for c in spec.feature_cols})
    order = [spec.timestamp_col, spec.id_col] if spec.timestamp_col else [spec.id_col]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


@register_transform(HONEST)
def honest(frame: pd.DataFrame, spec: ColumnSpec, *, rate: float = 0.0, seed: int = 0) -> TransformOutput:
    """Honest preprocessing: casts features and orders rows; labels untouched."""
    return TransformOutput(preprocess(frame, spec))


def _compromised(attack_name: str):
    def transform(frame: pd.DataFrame, spec: ColumnSpec, *, rate: float, seed: int, **options) -> TransformOutput:
        result = attacks.flip_labels(preprocess(frame, spec), spec, attack=attack_name, rate=rate, seed=seed, **options)
        return TransformOutput(result.frame, result)

    return transform


def get_transform(name: str) -> TransformSpec:
    """Look up a transform; every registered attack is available as a compromised transform."""
    if name in REGISTRY:
        return REGISTRY[name]
    if name in attacks.REGISTRY:
        spec = attacks.REGISTRY[name]
        # A compromised step poses as honest preprocessing: it declares that labels stay put.
        return TransformSpec(name, _compromised(name), False, f"compromised, poses as honest: {spec.description}")
    raise UnknownName("transform", name, transform_names())


def transform_names() -> list[str]:
    return sorted({*REGISTRY, *attacks.REGISTRY})


def run_transform(frame: pd.DataFrame, spec: ColumnSpec, name: str, *, rate: float = 0.0, seed: int = 0, **options) -> TransformOutput:
    transform = get_transform(name)
    check_rate(rate)
    return transform.fn(frame, spec, rate=rate, seed=seed, **options)
