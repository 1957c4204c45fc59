"""The registry decorators themselves, called at test time: the entries the product registers are
made at import, before `make mutation` activates a mutant, so only a registration made inside a
test shows whether the decorator records the name, the function and the docstring's first line.
Each registration is undone by monkeypatch (the global registries are left as they were)."""

from __future__ import annotations

import pytest

from labelguard.tasks import attacks, guards


def _documented(*_, **__):
    """First line of the docstring.

    More text that is not the description.
    """


def _undocumented(*_, **__):
    return None


@pytest.mark.parametrize("module, register", [(guards, "register_guard"), (attacks, "register_attack")])
def test_a_registration_records_the_name_the_function_and_the_docstrings_first_line(monkeypatch, module, register):
    monkeypatch.setattr(module, "REGISTRY", dict(module.REGISTRY))  # a copy: the real one is untouched
    assert getattr(module, register)("documented-x")(_documented) is _documented
    getattr(module, register)("undocumented-x")(_undocumented)
    doc, bare = module.REGISTRY["documented-x"], module.REGISTRY["undocumented-x"]
    assert (doc.name, doc.fn, doc.description) == ("documented-x", _documented, "First line of the docstring.")
    assert (bare.name, bare.fn, bare.description) == ("undocumented-x", _undocumented, "undocumented-x")
