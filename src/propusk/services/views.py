"""Views: the frozen dataclasses the use cases answer with instead of database rows (a row
stays in its unit of work; a view can be kept, compared and shown).

Most fields of a view are the row's columns under the same names; :func:`view_of` copies
those, so a view's module spells out only what it computes (a PEM, a status as of now,
the time of a use not yet written).
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["view_of"]

T = TypeVar("T", bound="DataclassInstance")


def view_of(view: type[T], row: object, **computed: object) -> T:
    """A ``view`` of ``row``: each field is the row's attribute of that name, or the value
    given in ``computed`` for that field. Lists become tuples (rows hold JSON lists; views
    are frozen and hashable). A name in ``computed`` that is not a field is a TypeError, and
    a field the row lacks an AttributeError: both are bugs, caught by any test of the view."""
    names = [f.name for f in fields(view) if f.init]
    unknown = computed.keys() - set(names)
    if unknown:
        raise TypeError(f"{view.__name__} has no field {', '.join(sorted(unknown))}")
    values: dict[str, object] = {}
    for name in names:
        value = computed[name] if name in computed else getattr(row, name)
        values[name] = tuple(value) if isinstance(value, list) else value
    return view(**values)
