"""Outages of the database and of Redis, as errors the edge can answer (503 + Retry-After
in the client's dialect) instead of tracebacks.

Only failures of the backend itself count: a refused or dropped connection, a pool or
network time-out, a server that is starting or shutting down, SQLite's "database is
locked" after its busy timeout. Constraint violations and programming errors are not
outages and pass through unchanged.

:class:`Outage` keeps one backend's state so that an outage is logged once when it begins
and once when it ends, however many requests fail in between.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

import redis.exceptions
from sqlalchemy import exc as sa_exc

from propusk.core.errors import ServiceUnavailable

__all__ = ["Outage", "is_cache_outage", "is_database_outage"]

log = logging.getLogger("propusk.storage")

# asyncpg's errors for a server that is not there (yet): connection refused or lost, the
# server starting up, shutting down or out of connection slots.
_PG_OUTAGES = frozenset(
    {
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "InterfaceError",
        "InternalClientError",
        "PostgresConnectionError",
        "TooManyConnectionsError",
        "AdminShutdownError",
        "CrashShutdownError",
        "ServerShutdownError",
        "QueryCanceledError",
    }
)


# The same by SQLSTATE: class 08 (connection exception), the server shutting down or
# starting (57P01-57P03), out of connection slots (53300).
_PG_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})

_SQLITE_OUTAGES = ("database is locked", "unable to open", "disk i/o error", "database is full")


def _pg_outage(orig: BaseException | None) -> bool:
    """The driver's error, or one it was translated from, is a server that is not there.

    SQLAlchemy's asyncpg adapter raises its own ``Error`` for some of asyncpg's (a
    connection refused with "the database system is shutting down" arrives as a plain
    ``DBAPIError``): the asyncpg exception is its cause, and both carry the SQLSTATE."""
    for _ in range(4):  # the chain is short; bounded all the same
        if orig is None:
            return False
        if type(orig).__name__ in _PG_OUTAGES:
            return True
        state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if isinstance(state, str) and (state.startswith("08") or state in _PG_OUTAGE_STATES):
            return True
        orig = orig.__cause__
    return False


def is_database_outage(exc: BaseException) -> bool:
    """True for a failure of the database server or the connection to it."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc.orig, sqlite3.Error):
            # sqlite3 says OperationalError for a missing table too: only these are outages.
            text = str(exc.orig).lower()
            return any(word in text for word in _SQLITE_OUTAGES)
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        return _pg_outage(exc.orig)
    # A refused connection reaches us unwrapped from the driver's connect (an OSError).
    return isinstance(exc, sa_exc.TimeoutError | OSError | TimeoutError)


def is_cache_outage(exc: BaseException) -> bool:
    """True for a failure of the Redis server or the connection to it."""
    errors = redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | OSError
    return isinstance(exc, errors)


class Outage:
    """One backend's up/down state: :meth:`failed` turns a failure into the error to raise
    (logging the start of an outage once), :meth:`ok` notes a success (logging the end)."""

    def __init__(
        self, name: str, *, retry_after: int = 2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.retry_after = retry_after
        self._clock = clock
        self._down_since: float | None = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def now(self) -> float:
        """A time to hand back to :meth:`ok` when the operation it starts succeeds."""
        return self._clock()

    def failed(self, exc: BaseException) -> ServiceUnavailable:
        if self._down_since is None:
            self._down_since = self._clock()
            # One line per outage, without the traceback: the cause's type and text.
            log.error("%s unreachable: %s: %s", self.name, type(exc).__name__, str(exc)[:200])
        return ServiceUnavailable(
            detail=f"{self.name} unreachable ({type(exc).__name__})",
            retry_after=self.retry_after,
        )

    def ok(self, started: float | None = None) -> None:
        """A success. With ``started`` (from :meth:`now`, taken when the operation began),
        an operation that began before the outage did does not end it: requests that were
        in flight when the backend went away finish in any order, and one that got through
        just before must not log a recovery between two failures of the same outage."""
        if self._down_since is not None:
            if started is not None and started < self._down_since:
                return
            log.warning("%s is back after %.1f s", self.name, self._clock() - self._down_since)
            self._down_since = None
