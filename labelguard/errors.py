"""The one exception family of labelguard; the CLI alone turns these into exit codes.

Exit codes (decided only in ``labelguard.cli``):

* 1 — :class:`GuardFired` and its subclasses: the data was examined and found wanting (a guard
  fired, or data that must be trusted could not be vouched for).
* 2 — every other :class:`LabelguardError`: labelguard could not do what was asked (usage,
  values, files, nothing at a URI, unreachable store/Prefect/database, missing credentials).
* 130 — :class:`Interrupted`: Ctrl-C (SIGINT) stopped the command before it finished.
"""

from __future__ import annotations

import re


class LabelguardError(Exception):
    """Base class: a problem the user can act on.

    Parameters
    ----------
    problem
        What went wrong, one line.
    fix
        What to do about it, one line.
    """

    def __init__(self, problem: str, fix: str = "", *, keep_spaces: bool = False) -> None:
        # always one line; ``keep_spaces`` keeps runs of spaces a name holds ('POSITIVE  '), joining only lines (break-it r11 F9)
        flat = (lambda t: re.sub(r"\s*[\r\n\t\v\f]\s*", " ", str(t)).strip()) if keep_spaces else (lambda t: " ".join(str(t).split()))
        self.problem = flat(problem)
        self.fix = flat(fix)
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.problem} (fix: {self.fix})" if self.fix else self.problem


class Interrupted(Exception):
    """Ctrl-C stopped a command before it finished (exit 130): neither a verdict on the data (1) nor a request
    that could not be done (2), so not a :class:`LabelguardError` (whose handlers turn it into exit 2).

    Parameters
    ----------
    where
        Which command stopped, and at what step when known, one line.
    fix
        What to do about it, one line.
    """

    def __init__(self, where: str, fix: str = "rerun the command") -> None:
        self.where = " ".join(str(where).split())
        self.fix = " ".join(str(fix).split())
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.where} (fix: {self.fix})"


class BadInput(LabelguardError):
    """The user asked for something that cannot be done as asked (usage, values, files)."""


def close_matches(name: str, valid: list[str], n: int = 2) -> list[str]:
    """The valid names a near-typo of ``name`` most likely meant (``model-gate`` → ``model_gate``, ``--row`` → ``--rows``).

    One rule for every "did you mean" labelguard says (unknown options, unknown registered names):
    difflib's similarity of at least 0.75, with ``-`` and ``_`` counted as the same character.
    """
    import difflib

    fold = {v.replace("-", "_"): v for v in valid}
    return [fold[m] for m in difflib.get_close_matches(str(name).replace("-", "_"), list(fold), n=n, cutoff=0.75)]


class UnknownName(BadInput):
    """A name chosen by string (attack, transform, guard, model) is not registered."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        close = close_matches(name, list(valid))
        super().__init__(
            f"unknown {kind} {name!r}" + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""),
            f"choose one of: {', '.join(sorted(valid))}",
        )


class StoreError(BadInput):
    """The store cannot be reached, written or read as configured."""


class StoreUnreachable(StoreError):
    """The endpoint did not answer: the one storage failure worth retrying."""


class DatasetExists(StoreError):
    """Create-only write refused: something is already at the destination."""


class DatasetMissing(StoreError):
    """Nothing at the given URI (no bucket, no objects, no such file)."""


class KeyProblem(BadInput):
    """A signing or verification key is missing or unreadable."""


class SchemaViolation(BadInput):
    """Input data does not satisfy the review schema (raised at ingest, before anything is written)."""

    def __init__(self, problem: str, fix: str = "", failure_cases: object = None) -> None:
        super().__init__(problem, fix)
        self.failure_cases = failure_cases


class ServiceUnreachable(LabelguardError):
    """A service labelguard needs (Prefect API, database) did not answer or refused the login."""


class GuardFired(LabelguardError):
    """One or more guards failed: the data was examined and found wanting.

    ``results`` carries the guard results, so the edge can show them before the one-line error.
    ``fix`` defaults to the pipeline's wording; other commands pass their own.
    """

    PIPELINE_FIX = "inspect the guard results; rerun with --observe to measure the damage anyway"

    def __init__(self, failed: list[str], detail: str = "", results: list | None = None, *, stopped: str = "training stopped", fix: str | None = None) -> None:
        self.failed = list(failed)
        self.results = list(results or [])
        super().__init__(
            f"{', '.join(failed)} fired" + (f", {stopped}" if stopped else "") + (f" ({detail})" if detail else ""),
            self.PIPELINE_FIX if fix is None else fix,
        )


class Inconclusive(GuardFired):
    """No guard fired, but the guards could not vouch for the data (the dataset verdict ``inconclusive``):
    the pipeline fails closed, as ``verify`` does (exit 1)."""

    def __init__(self, detail: str, results: list | None = None, *, fix: str, stopped: str = "training stopped") -> None:
        LabelguardError.__init__(self, "the guards cannot vouch for the data" + (f", {stopped}" if stopped else "") + f" ({detail})", fix)
        self.failed = []
        self.results = list(results or [])


class UntrustedInput(GuardFired):
    """Data that must be trusted (a holdout, a reference baseline) failed its own verification.

    ``ids`` are the rows of that trusted data its signed row sidecar names as changed (empty when none can be named);
    ``uri`` where it lives: for a ``--json`` report of the refusal.
    """

    def __init__(self, failed: list[str], detail: str = "", results: list | None = None, *, fix: str | None = None,
                 ids: list | None = None, uri: str | None = None) -> None:
        super().__init__(
            failed, detail, results, stopped="cannot be trusted",
            fix=fix or "restore the trusted data from a signed copy, or point at another signed baseline/holdout",
        )
        self.detail, self.ids, self.uri = " ".join(str(detail).split()), list(ids or []), uri
