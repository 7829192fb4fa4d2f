"""The console session's repr keeps its secrets out of logs."""

from __future__ import annotations

from propusk.web.console.session import ConsoleSession


def test_repr_hides_the_csrf_token_and_the_token_pair() -> None:
    session = ConsoleSession(
        sid="sid-SECRET-1",
        csrf="csrf-SECRET-2",
        expires=1,
        account_id="acc-1",
        access="access-SECRET-3",
        refresh="refresh-SECRET-4",
    )
    text = repr(session)
    assert "acc-1" in text  # the repr still says whose session it is
    for secret in ("sid-SECRET-1", "csrf-SECRET-2", "access-SECRET-3", "refresh-SECRET-4"):
        assert secret not in text
