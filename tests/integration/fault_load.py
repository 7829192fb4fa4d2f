"""A bounded load for fault tests: a few client threads send a fixed number of requests,
one kind after another, while a backend is stopped part-way through; every answer is
judged against what its kind may answer (test_faults.py).

Each answer is **normal** (what the route answers when all is well), **unavailable** (503
with ``Retry-After`` and the body of the route's dialect), or **wrong** (anything else: a
500, a refusal, a body in the wrong dialect). A dropped or reset connection is recorded as
wrong too. Phases: ``before`` the stop began, ``during`` (sent after the backend was
down), ``edge`` (in flight while it went down: either normal or unavailable).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx
from defusedxml import ElementTree

__all__ = ["Kind", "Load", "Outcome", "is_unavailable", "judge"]

Dialect = Literal["propusk", "rustore", "waves", "qiwi-xml", "readyz", "html"]
Verdict = str  # "normal", "unavailable" or "wrong: …"
Phase = Literal["before", "edge", "during"]
TIMEOUT = 15.0  # one request's bound, seconds


@dataclass(frozen=True)
class Kind:
    """One kind of request: how to send it (``client`` is the thread's index, for state
    that each client keeps, such as its refresh token), what a normal answer is, and the
    dialect an outage must be answered in."""

    name: str
    send: Callable[[httpx.Client, int], httpx.Response]
    normal: Callable[[httpx.Response], bool]
    dialect: Dialect


@dataclass(frozen=True)
class Outcome:
    kind: str
    phase: Phase
    verdict: Verdict


def _retry_after(r: httpx.Response) -> bool:
    value = r.headers.get("retry-after", "")
    return value.isdigit() and int(value) >= 1


def is_unavailable(dialect: Dialect, r: httpx.Response) -> bool:
    """A 503 with Retry-After whose body is the dialect's own refusal."""
    if r.status_code != 503 or not _retry_after(r):
        return False
    if dialect == "html":
        return str(r.headers.get("content-type", "")).startswith("text/html")
    if dialect == "qiwi-xml":
        root = ElementTree.fromstring(r.content)
        code = root.find("result-code")
        return root.tag == "response" and code is not None and code.text == "13"
    body: dict[str, object] = r.json()
    if dialect == "propusk":
        return set(body) == {"error", "message"} and body["error"] == "unavailable"
    if dialect == "rustore":
        return (
            body.get("code") == "ERROR"
            and body.get("body") is None
            and isinstance(body.get("message"), str)
            and isinstance(body.get("timestamp"), str)
        )
    if dialect == "waves":
        return body.get("error") == 640 and isinstance(body.get("message"), str)
    # /readyz: which backend is down, each said separately.
    return body.get("status") == "unavailable" and "unavailable" in (
        body.get("database"),
        body.get("redis"),
    )


def judge(kind: Kind, r: httpx.Response) -> Verdict:
    if kind.normal(r):
        return "normal"
    if is_unavailable(kind.dialect, r):
        return "unavailable"
    return f"wrong: {r.status_code} {r.headers.get('retry-after')} {r.text[:300]!r}"


class Load:
    """``clients`` threads, ``per_client`` requests each (kinds taken in turn); after
    ``stop_after`` answers, ``stop`` is called (in its own thread) while the load goes on.
    Bounded: every request has a time-out, and :meth:`run` fails past ``deadline``."""

    def __init__(
        self,
        url: str,
        kinds: list[Kind],
        *,
        stop: Callable[[], None],
        clients: int = 4,
        per_client: int = 50,
        stop_after: int = 60,
        deadline: float = 180.0,
    ) -> None:
        self.url = url
        self.kinds = kinds
        self.stop = stop
        self.clients = clients
        self.per_client = per_client
        self.stop_after = stop_after
        self.deadline = deadline
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._answered = 0
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._stop_error: BaseException | None = None

    def _phase(self, sent_after_stop: bool) -> Phase:
        if sent_after_stop:
            return "during"
        return "edge" if self._stopping.is_set() else "before"

    def _client(self, index: int) -> None:
        with httpx.Client(base_url=self.url, timeout=TIMEOUT) as http:
            for i in range(self.per_client):
                kind = self.kinds[(index + i) % len(self.kinds)]
                after = self._stopped.is_set()
                try:
                    verdict = judge(kind, kind.send(http, index))
                except httpx.HTTPError as exc:  # a reset or dropped connection, a time-out
                    verdict = f"wrong: {type(exc).__name__}: {exc}"
                with self._lock:
                    self.outcomes.append(Outcome(kind.name, self._phase(after), verdict))
                    self._answered += 1
                    if self._answered == self.stop_after:
                        self._stopping.set()

    def _controller(self) -> None:
        if not self._stopping.wait(self.deadline):
            return
        try:
            self.stop()
        except BaseException as exc:  # reported by run()
            self._stop_error = exc
        finally:
            self._stopped.set()

    def run(self) -> list[Outcome]:
        threads = [threading.Thread(target=self._client, args=(i,)) for i in range(self.clients)]
        controller = threading.Thread(target=self._controller)
        end = time.monotonic() + self.deadline
        for thread in [controller, *threads]:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))
            assert not thread.is_alive(), f"the load did not finish in {self.deadline} s"
        self._stopping.set()  # fewer answers than stop_after: stop now all the same
        controller.join(max(0.0, end - time.monotonic()))
        assert not controller.is_alive(), "stopping the backend did not finish"
        if self._stop_error is not None:
            raise self._stop_error
        return self.outcomes
