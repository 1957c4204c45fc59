"""Classes with meaning: which class is "positive", named by the user or by an unambiguous default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from labelguard.errors import BadInput
from labelguard.tasks.manifest import ColumnSpec, to_py

POSITIVE_NAMES = ("positive", "yes", "true")  # "true": a bool column written to CSV reads back as text
NEGATIVE_NAMES = ("negative", "no", "false")


def _number(value: Any) -> float | None:
    """The numeric value of a class label (``1``, ``1.0``, ``True``, ``"+1"``), or None for a name."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def default_positive(classes: Sequence[Any]) -> Any:
    """The positive class where the class set leaves no doubt, else None.

    Unambiguous: 1 of {0, 1}, +1 of {-1, +1}, True of {False, True} (numbers written as text count),
    or the one class literally named ``positive``, ``yes`` or ``true`` (case-insensitive, so a bool
    column exported to CSV as ``True``/``False`` text means the same as in Parquet).
    """
    numbers = [_number(c) for c in classes]
    if len(classes) == 2 and None not in numbers and sorted(numbers) in ([0.0, 1.0], [-1.0, 1.0]):
        return classes[numbers.index(1.0)]
    named = [c for c in classes if isinstance(c, str) and c.strip().lower() in POSITIVE_NAMES]
    return named[0] if len(named) == 1 else None


def match_class(value: Any, classes: Sequence[Any], what: str = "--positive-class") -> Any:
    """The member of ``classes`` that ``value`` names (as written on a command line: ``1`` names 1).

    Raises
    ------
    BadInput
        ``value`` names none of the classes.
    """
    for c in classes:
        if c == value or str(to_py(c)) == str(value):
            return c
    number = _as_number(value)
    if number is not None:  # "1" names the class 1.0 (a label column read as floats), "1.0" the class 1
        for c in classes:
            if not isinstance(to_py(c), str) and _as_number(c) == number:  # text classes are matched as written
                return c
    shown = ", ".join(repr(to_py(c)) for c in classes)
    near = [c for c in classes if isinstance(to_py(c), str) and to_py(c).strip().casefold() == str(value).strip().casefold()]
    if len(near) == 1:  # 'POSITIVE' for the class 'POSITIVE  ': name it, its spaces shown as stored (break-it r11 F9)
        import shlex

        raise BadInput(f"{what} {value!r} is not one of the classes ({shown})",
                       f"the class {to_py(near[0])!r} differs from it only in spaces or case: pass {what} {shlex.quote(str(to_py(near[0])))}",
                       keep_spaces=True)
    raise BadInput(f"{what} {value!r} is not one of the classes ({shown})", f"pass {what} naming one of: {shown}", keep_spaces=True)


def _as_number(value: Any) -> float | None:
    """A class or a command-line value as a number, when it is one (never a bool, never text that is not a number)."""
    value = to_py(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip()) if str(value).strip().lstrip("+-").replace(".", "", 1).isdigit() else None
    except ValueError:
        return None


def resolve_positive(classes: Sequence[Any], given: Any = None, *, required: bool = False) -> Any:
    """The positive class: ``given`` (checked against ``classes``) or the unambiguous default.

    Parameters
    ----------
    classes
        The class set.
    given
        What the user named (``--positive-class``), or None.
    required
        Raise instead of returning None when there is no unambiguous default.

    Raises
    ------
    BadInput
        ``given`` is not a class, or ``required`` and the class set leaves the positive class open.
    """
    if given is not None:
        return match_class(given, classes)
    found = default_positive(classes)
    if found is None and required:
        raise ask_for_positive(classes)
    return found


def ask_for_positive(classes: Sequence[Any]) -> BadInput:
    shown = ", ".join(repr(to_py(c)) for c in classes)
    return BadInput(
        f"cannot tell which class is positive among {shown}",
        "pass --positive-class naming the class the business figure and the targeted attack are about",
    )


def positive_class(spec: ColumnSpec) -> Any:
    """The spec's positive class: the recorded one, else the default rule (older manifests), else None."""
    if spec.positive_class is not None:
        return match_class(spec.positive_class, spec.classes)
    return default_positive(spec.classes)


def with_positive(spec: ColumnSpec, given: Any = None) -> ColumnSpec:
    """``spec`` with ``given`` (a command-line override, checked) recorded as its positive class."""
    from dataclasses import replace

    if given is None:
        return spec
    return replace(spec, positive_class=match_class(given, spec.classes))


def refuse_positive_against_signed(signed: ColumnSpec, given: Any) -> None:
    """Refuse a ``--positive-class`` that contradicts the positive class a dataset's signed manifest records.

    The business figure, the per-class scores and the default targeted attack are about the class
    ingest signed; naming another one on ``verify`` or ``pipeline`` silently reported about a
    class the data was not signed for (break-it r5 finding 9). Naming the signed class again, or a
    class where the manifest records none (3+ classes, none named; older manifests), is fine.

    Parameters
    ----------
    signed
        The column spec read from the dataset's signed manifest.
    given
        ``--positive-class`` as typed, or None.

    Raises
    ------
    BadInput
        ``given`` is not a class, or names another class than the signed positive class.
    """
    if given is None:
        return
    named = match_class(given, signed.classes)  # a class the data lacks is refused too: `--positive-class merlot` on 3+ classes passed (break-it r8 F20)
    if signed.positive_class is None:
        return
    ours = next((c for c in signed.classes if c == signed.positive_class or str(to_py(c)) == str(to_py(signed.positive_class))), signed.positive_class)
    if named != ours:
        raise BadInput(
            f"--positive-class {to_py(named)!r} contradicts the dataset's signed positive class {to_py(ours)!r}",
            f"drop --positive-class (the signed {to_py(ours)!r} is used), or ingest the data again with --positive-class {to_py(named)} to make it the positive class",
        )


def negative_class(classes: Sequence[Any], positive: Any) -> Any:
    """The class a targeted attack moves positive rows to by default: the other one of two, or the
    one literally named ``negative``/``no``; None when several remain (then each row goes to a random
    other class)."""
    others = [c for c in classes if c != positive]
    if len(others) == 1:
        return others[0]
    named = [c for c in others if isinstance(c, str) and c.strip().lower() in NEGATIVE_NAMES]
    return named[0] if len(named) == 1 else None


@dataclass
class UnknownClasses:
    """Rows of classes the trusted rows (``what``: the reference) never had: no guard can vouch for them, and none are flips.

    ``counts`` maps each such class to its rows in the data, ``ids`` are those rows' ids (sorted),
    ``known`` the trusted rows' classes.
    """

    counts: dict[Any, int]
    ids: list
    known: list
    what: str = "reference"

    def line(self) -> str:
        """``class 'neutral' (37 rows) is not among the reference's classes 'neg', 'pos'``."""
        new = ", ".join(f"{to_py(c)!r} ({n} row{'s' if n != 1 else ''})" for c, n in self.counts.items())
        return (f"class{'es' if len(self.counts) > 1 else ''} {new} {'are' if len(self.counts) > 1 else 'is'} not among "
                f"the {self.what}'s classes {', '.join(repr(to_py(c)) for c in self.known)}")

    def to_dict(self) -> dict[str, Any]:
        return {"classes": {str(to_py(c)): n for c, n in self.counts.items()}, "ids": [to_py(i) for i in self.ids],
                "known": [to_py(c) for c in self.known]}


def class_codes(classes: Sequence, labels) -> "np.ndarray":
    """Each label's position in ``classes``, shape (n,) int: an exact lookup, whatever the order of ``classes``.

    ``classes`` is not always sorted: :func:`with_trusted_classes` appends the trusted rows' own classes after the
    data's, and a binary search (``np.searchsorted``) over ``('negatif', 'positif', 'négatif')`` coded the trusted
    rows' ``négatif`` as 2 of 2 classes (break-it r17 F4: verify's "unexpected IndexError"; a class sorting between two
    others would have been coded as another class without an error). Raises ValueError for a label outside ``classes``
    (the callers set such rows apart first: :func:`set_apart_unknown`).
    """
    import numpy as np
    import pandas as pd

    codes = pd.Index(list(classes), dtype=object).get_indexer(pd.Index(np.asarray(labels), dtype=object))
    if (codes < 0).any():
        missing = sorted({str(v) for v in np.asarray(labels)[codes < 0]})[:3]
        raise ValueError(f"labels {missing} are not among the classes {list(classes)}")
    return codes


def with_trusted_classes(spec: ColumnSpec, *trusted) -> ColumnSpec:
    """``spec`` with the classes that only the trusted rows have appended to its class set (in sorted order, so the
    data's own classes keep their codes).

    A class the trusted rows hold and the data has no row of is one the data lost: every row of it relabelled before
    the data was sealed (a lake sealed after a targeted attack emptied the class), or data that never had it. Either
    way the guards compare it with the trusted rows: the class balance sees 0 % against the trusted share. Without it
    the detectors met labels outside the data's class set and failed (an ``IndexError``). ``trusted``: frames or None.
    """
    from dataclasses import replace

    ours = {to_py(c) for c in spec.classes or ()}
    if not ours:
        return spec
    theirs = {to_py(v) for rows in trusted if rows is not None and len(rows) and spec.label_col in rows
              for v in rows[spec.label_col].dropna().unique()}
    extra = sorted(theirs - ours, key=str)
    if not extra or not theirs & ours:  # no class in common is another labelling, refused before this
        return spec
    from labelguard.tasks.sources import refuse_label_spellings

    # the data's 'négatif' written in NFD (macOS) against the trusted rows' NFC one: one class spelled two ways, an
    # input to fix (exit 2), not a class the reference lacks (break-it r17 F4; within one file it was refused already)
    refuse_label_spellings(tuple(spec.classes) + tuple(extra), spec.label_col)
    return replace(spec, classes=tuple(spec.classes) + tuple(extra))


def set_apart_unknown(frame, spec: ColumnSpec, trusted, holdout=None, what: str = "reference"):
    """Set apart the rows whose class the trusted rows never had, so the guards judge the known classes only.

    A batch with a class its reference lacks (``neutral`` beside ``pos``/``neg``) is data the reference
    cannot vouch for; compared with it, every row of the new class looks flipped to the content guards
    (the reference model cannot predict a class it never saw). Those rows are left out of the frame
    (and of the holdout, whose rows the reference model could not predict either), and of the spec's
    class set; the caller says why, naming them (see :class:`UnknownClasses`).

    Returns
    -------
    (frame, holdout, spec, UnknownClasses or None): unchanged, with None, when every class is known.
    """
    from dataclasses import replace

    from labelguard.tasks.dataset import sort_ids

    if frame is None or trusted is None or not len(trusted):
        return frame, holdout, spec, None
    known = {to_py(c) for c in trusted[spec.label_col].dropna().unique()}
    labels = frame[spec.label_col].map(to_py)
    new = ~labels.isin(known)
    if not new.any() or new.all():
        return frame, holdout, spec, None
    counts = {c: int(n) for c, n in sorted(labels[new].value_counts().items(), key=lambda kv: str(kv[0]))}
    unknown = UnknownClasses(counts, sort_ids(frame.loc[new, spec.id_col].tolist()), sorted(known, key=str), what)
    classes = tuple(c for c in spec.classes if to_py(c) in known)
    positive = spec.positive_class if to_py(spec.positive_class) in known else None
    keep_holdout = holdout if holdout is None else holdout[holdout[spec.label_col].map(to_py).isin(known)].reset_index(drop=True)
    return (frame[~new].reset_index(drop=True), keep_holdout, replace(spec, classes=classes, positive_class=positive), unknown)


def note_unknown_classes(results: list, unknown: UnknownClasses | None) -> None:
    """Make the schema guard fire naming the classes the reference lacks, in place; its suspects stay the rows it
    found invalid (the new class's rows are no flips: they are listed apart, in ``metrics["unknown_class"]``)."""
    if unknown is None:
        return
    for g in results:
        if g.name == "schema" and not g.skipped:
            g.passed = False
            g.detail = f"{unknown.line()}: rows not judged as flips; {g.detail}"
            g.metrics["unknown_class"] = unknown.to_dict()
