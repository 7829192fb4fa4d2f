"""What the use cases share below any one concept: the collaborators nearly all of them hold
(the database, the clock, the audit trail), loading a row that must belong to an
organization, and one page of a listing.

A use case is a dataclass over its collaborators, so each is declared once and the
constructor is written by ``dataclass``. A subclass declares only the collaborators it adds,
in the order its constructor takes them (``wiring.py`` and the tests pass them by position).
``eq=False`` keeps the identity comparison and hash of a plain object; ``repr=False`` keeps
settings and connections out of reprs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.core.changes import Changes
from propusk.core.errors import InvalidRequest, NotFound
from propusk.services.audit import Audit
from propusk.services.clock import Clock
from propusk.storage.db import Database

__all__ = ["MAX_PAGE", "UseCase", "checked_limit", "load_owned", "page"]

MAX_PAGE = 200


@dataclass(eq=False, repr=False)
class UseCase:
    """The collaborators of (nearly) every use case."""

    db: Database
    clock: Clock
    audit: Audit
    # Where credential changes are announced (every process's caches forget the entry);
    # keyword-only, so the positional constructors stay as they are.
    changes: Changes = field(default_factory=Changes, kw_only=True)


class _Owned(Protocol):
    @property
    def org_id(self) -> str: ...


_O = TypeVar("_O", bound=_Owned)
_T = TypeVar("_T")


async def load_owned(
    session: AsyncSession, model: type[_O], key: str, org_id: str, not_found: str
) -> _O:
    """The row ``key`` of ``model`` if it belongs to ``org_id``, else NotFound(``not_found``).
    Another organization's row and a made-up key get the same answer: no tenant learns
    what another one has."""
    row = await session.get(model, key)
    if row is None or row.org_id != org_id:
        raise NotFound(not_found)
    return row


def checked_limit(limit: int) -> int:
    """A page size the caller may ask for: 1 to MAX_PAGE, or InvalidRequest."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be 1 to {MAX_PAGE}")
    return limit


def page(query: Select[_T], limit: int, offset: int) -> Select[_T]:
    """``query`` cut to one page; a negative offset counts as 0."""
    return query.limit(checked_limit(limit)).offset(max(0, offset))
