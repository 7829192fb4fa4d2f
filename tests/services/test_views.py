"""Views filled from rows (services/views.py)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from propusk.services.views import view_of


@dataclass(frozen=True)
class _View:
    id: str
    apps: tuple[str, ...]
    status: str


def test_fields_come_from_the_row_lists_as_tuples() -> None:
    row = SimpleNamespace(id="k1", apps=["b", "a"], status="active", secret="never shown")
    view = view_of(_View, row)
    assert view == _View("k1", ("b", "a"), "active")
    hash(view)  # frozen and hashable: no list inside


def test_computed_fields_win_and_must_be_fields() -> None:
    row = SimpleNamespace(id="k1", apps=[], status="active")
    assert view_of(_View, row, status="expired").status == "expired"
    with pytest.raises(TypeError, match="no field colour"):
        view_of(_View, row, colour="red")
    with pytest.raises(AttributeError):
        view_of(_View, SimpleNamespace(id="k1", apps=[]))
