"""The one exception family of labelguard; the CLI alone turns these into exit codes."""

from __future__ import annotations


class LabelguardError(Exception):
    """Base class: a problem the user can act on.

    Parameters
    ----------
    problem
        What went wrong, one line.
    fix
        What to do about it, one line.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.problem} (fix: {self.fix})" if self.fix else self.problem


class BadInput(LabelguardError):
    """The user asked for something that cannot be done as asked (usage, values, files)."""


class UnknownName(BadInput):
    """A name chosen by string (attack, transform, guard, model) is not registered."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        super().__init__(
            f"unknown {kind} {name!r}",
            f"choose one of: {', '.join(sorted(valid))}",
        )


class StoreError(BadInput):
    """The store cannot be reached, written or read as configured."""


class StoreUnreachable(StoreError):
    """The endpoint did not answer: the one storage failure worth retrying."""


class DatasetExists(StoreError):
    """Create-only write refused: something is already at the destination."""


class DatasetMissing(StoreError):
    """Nothing (or no manifest) at the given URI."""


class KeyProblem(BadInput):
    """A signing or verification key is missing or unreadable."""


class SchemaViolation(BadInput):
    """Input data does not satisfy the review schema (raised at ingest, before anything is written)."""

    def __init__(self, problem: str, fix: str = "", failure_cases: object = None) -> None:
        super().__init__(problem, fix)
        self.failure_cases = failure_cases


class GuardFired(LabelguardError):
    """One or more guards failed; the pipeline stopped before training.

    ``results`` carries the guard results, so the edge can show them before the one-line error.
    """

    def __init__(self, failed: list[str], detail: str = "", results: list | None = None) -> None:
        self.failed = list(failed)
        self.results = list(results or [])
        super().__init__(
            f"{', '.join(failed)} fired, training stopped" + (f" ({detail})" if detail else ""),
            "inspect the guard results; rerun with --observe to measure the damage anyway",
        )


class UntrustedInput(GuardFired):
    """Data that must be trusted (a holdout, a reference baseline) failed its own verification."""
