"""Ledger behaviour that the fresh-clone mutation run of tasks/ledger.py (issue 13, fifteenth session) found untested:
``LABELGUARD_LEDGER=none`` in any case and spacing means no ledger, and a ledger that exists but cannot be appended to
is refused before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labelguard.errors import BadInput
from labelguard.tasks.ledger import LEDGER_ENV, Ledger, default_ledger_path


# CI runs on Linux: there the two tests run or fail, never skip (no silent skips in CI, as for the services)
NEEDS_PROC = pytest.mark.skipif(not Path("/proc/self/status").is_file() and not os.environ.get("CI"), reason="needs Linux's /proc")


@pytest.mark.parametrize("value", ["none", " None ", "NONE"])
def test_the_ledger_variable_set_to_none_in_any_case_means_no_ledger(value, monkeypatch, tmp_path):
    """(``default_ledger_path`` 4, 6, 7: the word compared upper-cased or misspelt made it a file named "none".)"""
    monkeypatch.setenv(LEDGER_ENV, value)
    assert default_ledger_path(tmp_path / "signing.key") is None



def test_the_ledger_variable_names_the_file_otherwise_and_the_key_s_folder_is_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv(LEDGER_ENV, "nonesuch.jsonl")
    assert default_ledger_path(tmp_path / "signing.key") == Path("nonesuch.jsonl")
    monkeypatch.delenv(LEDGER_ENV)
    assert default_ledger_path(tmp_path / "signing.key") == tmp_path / "ledger.jsonl"
    assert default_ledger_path(None) is None


@NEEDS_PROC
def test_an_existing_ledger_that_cannot_be_appended_to_is_refused_in_one_line():
    """An existing file that reads but refuses appending (the kernel refuses it for /proc/self/status, even to root, as
    a read-only file to anyone else) is refused by the append probe; opened for reading it would pass (``ensure_writable`` 4)."""
    with pytest.raises(BadInput) as err:
        Ledger(Path("/proc/self/status")).ensure_writable()
    assert str(err.value).startswith("cannot write the ledger /proc/self/status: ")


@NEEDS_PROC
def test_a_new_ledger_is_probed_in_its_own_nearest_folder_not_the_temporary_one():
    """A ledger to be created below /proc (no file can be created there, even by root) is refused; a probe made in the
    system's temporary folder instead would pass it (``ensure_writable`` 23, 25). Nothing is left behind."""
    with pytest.raises(BadInput) as err:
        Ledger(Path("/proc/labelguard-none/ledger.jsonl")).ensure_writable()
    assert str(err.value).startswith("cannot write the ledger /proc/labelguard-none/ledger.jsonl: ")
    assert str(err.value).endswith(" (fix: set LABELGUARD_LEDGER or --ledger to a writable file)")
    assert not Path("/proc/labelguard-none").exists()
