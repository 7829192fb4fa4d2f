from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from propusk.core.catalog import MethodCatalog, load_catalog
from propusk.core.errors import Forbidden, InvalidRequest, Unauthenticated
from propusk.core.policy import REASONS, Decision, authorize
from propusk.core.principals import Principal

DEMO = Path(__file__).parent.parent / "vectors" / "catalog_demo.toml"

# A service key of org O1 scoped to app A with a few methods.
KEY_A = Principal(
    subject="key-1",
    method="service-key",
    kind="service-key",
    org_id="O1",
    methods=frozenset({"apps.read", "reviews.list", "reports.read"}),
    apps=frozenset({"A"}),
)
# A credential with methods but no app set: the core cannot check its tenancy.
KEY_UNSCOPED = Principal(
    subject="key-2",
    method="api-key",
    kind="api-key",
    org_id="O1",
    methods=frozenset({"apps.read", "reports.read"}),
)
USER = Principal(subject="u1", method="bearer", roles=frozenset({"user"}))
ADMIN = Principal(subject="u2", method="bearer", roles=frozenset({"admin"}))
VIEWER = Principal(subject="u3", method="bearer", roles=frozenset({"viewer", "unknown-role"}))
NO_ROLES = Principal(subject="u4", method="bearer")
# An account token restricted to app A (apps set on an account principal).
USER_ON_A = Principal(
    subject="u5", method="bearer", roles=frozenset({"user"}), apps=frozenset({"A"})
)
# Explicit methods win over roles, even for an admin.
ADMIN_PINNED = Principal(
    subject="u6", method="bearer", roles=frozenset({"admin"}), methods=frozenset({"apps.list"})
)


@pytest.fixture(scope="module")
def catalog() -> MethodCatalog:
    return load_catalog(DEMO)


@pytest.mark.parametrize(
    ("principal", "verb", "path", "status", "reason", "method", "app_id"),
    [
        # a scoped key: app methods on its apps only
        (KEY_A, "GET", "/demo/apps/A", 200, "allowed", "apps.read", "A"),
        (KEY_A, "HEAD", "/demo/apps/A", 200, "allowed", "apps.read", "A"),
        (KEY_A, "GET", "/demo/apps/A/reviews?page=2", 200, "allowed", "reviews.list", "A"),
        (KEY_A, "GET", "/demo/apps/%41/reviews", 200, "allowed", "reviews.list", "A"),
        (KEY_A, "GET", "/demo/apps/B", 403, "app_not_in_scope", "apps.read", "B"),
        (KEY_A, "GET", "/demo/apps/B/reviews", 403, "app_not_in_scope", "reviews.list", "B"),
        (KEY_A, "GET", "/demo/apps/a", 403, "app_not_in_scope", "apps.read", "a"),
        (KEY_A, "GET", "/demo/apps/A%20", 403, "app_not_in_scope", "apps.read", "A "),
        # general methods ignore app scope (spec section 1)
        (KEY_A, "GET", "/demo/reports", 200, "allowed", "reports.read", None),
        (KEY_A, "GET", "/demo/reports/B-2024", 200, "allowed", "reports.read", None),
        # not held
        (
            KEY_A,
            "POST",
            "/demo/apps/A/reviews/r1/reply",
            403,
            "method_not_held",
            "reviews.reply",
            "A",
        ),
        (KEY_A, "GET", "/demo/apps", 403, "method_not_held", "apps.list", None),
        (KEY_A, "GET", "/demo/apps/new", 403, "method_not_held", "apps.create", None),
        # a credential without an app set gets general methods, not app methods
        (KEY_UNSCOPED, "GET", "/demo/reports", 200, "allowed", "reports.read", None),
        (KEY_UNSCOPED, "GET", "/demo/apps/A", 403, "no_app_scope", "apps.read", "A"),
        # accounts: methods from roles, no app restriction when apps is None
        (USER, "GET", "/demo/apps/A", 200, "allowed", "apps.read", "A"),
        (USER, "GET", "/demo/apps/Z", 200, "allowed", "apps.read", "Z"),
        (USER, "GET", "/demo/apps", 200, "allowed", "apps.list", None),
        (USER, "GET", "/demo/reports", 403, "method_not_held", "reports.read", None),
        (USER, "POST", "/demo/apps", 403, "method_not_held", "apps.create", None),
        (ADMIN, "POST", "/demo/apps", 200, "allowed", "apps.create", None),
        (ADMIN, "POST", "/demo/apps/Z/reviews/1/reply", 200, "allowed", "reviews.reply", "Z"),
        (ADMIN, "GET", "/demo/docs/internal", 200, "allowed", "docs.private", None),
        (VIEWER, "GET", "/demo/apps", 403, "method_not_held", "apps.list", None),
        (NO_ROLES, "GET", "/demo/apps", 403, "method_not_held", "apps.list", None),
        (USER_ON_A, "GET", "/demo/apps/A", 200, "allowed", "apps.read", "A"),
        (USER_ON_A, "GET", "/demo/apps/B", 403, "app_not_in_scope", "apps.read", "B"),
        (ADMIN_PINNED, "GET", "/demo/apps", 200, "allowed", "apps.list", None),
        (ADMIN_PINNED, "POST", "/demo/apps", 403, "method_not_held", "apps.create", None),
        # no principal
        (None, "GET", "/demo/apps/A", 401, "no_principal", "apps.read", "A"),
        (None, "GET", "/demo/reports", 401, "no_principal", "reports.read", None),
        (None, "GET", "/demo/docs/internal", 401, "no_principal", "docs.private", None),
        # public routes, with or without a principal
        (None, "GET", "/demo/health", 200, "public", None, None),
        (None, "GET", "/demo/docs/intro?lang=ru", 200, "public", None, None),
        (KEY_A, "GET", "/demo/health", 200, "public", None, None),
        (NO_ROLES, "GET", "/demo/docs/intro", 200, "public", None, None),
        # unmatched routes: 403 with a principal, 401 without
        (KEY_A, "GET", "/demo/unknown", 403, "no_route", None, None),
        (ADMIN, "DELETE", "/demo/apps/A", 403, "no_route", None, None),
        (ADMIN, "GET", "/demo/apps/", 403, "no_route", None, None),
        (ADMIN, "get", "/demo/apps", 403, "no_route", None, None),
        (ADMIN, "HEAD", "/demo/health", 403, "no_route", None, None),
        (ADMIN, "BREW", "/demo/apps", 403, "no_route", None, None),
        (None, "GET", "/demo/unknown", 401, "no_route", None, None),
        (None, "POST", "/demo/health", 401, "no_route", None, None),
        # bad paths: 400 whoever asks, before anything else
        (ADMIN, "GET", "/demo/apps/%2e%2e/reports", 400, "bad_path", None, None),
        (ADMIN, "GET", "/demo/apps/A%2F..%2FB", 400, "bad_path", None, None),
        (KEY_A, "GET", "/demo/apps/A/..%2f..%2fB/reviews", 400, "bad_path", None, None),
        (KEY_A, "GET", "/demo/apps/A/../B", 400, "bad_path", None, None),
        (KEY_A, "GET", "//demo/reports", 400, "bad_path", None, None),
        (KEY_A, "GET", "/demo/./reports", 400, "bad_path", None, None),
        (None, "GET", "/demo/%252e%252e/health", 400, "bad_path", None, None),
        (None, "GET", "/demo/health/..", 400, "bad_path", None, None),
        (None, "GET", "\\demo\\health", 400, "bad_path", None, None),
        (None, "GET", "/demo/apps/%00", 400, "bad_path", None, None),
        (None, "BREW", "demo", 400, "bad_path", None, None),
    ],
)
def test_authorize_matrix(
    catalog: MethodCatalog,
    principal: Principal | None,
    verb: str,
    path: str,
    status: int,
    reason: str,
    method: str | None,
    app_id: str | None,
) -> None:
    decision = authorize(principal, verb, path, catalog)
    assert (decision.status, decision.reason, decision.method, decision.app_id) == (
        status,
        reason,
        method,
        app_id,
    )
    assert decision.allowed is (status == 200)
    assert decision.reason in REASONS


def test_query_cannot_smuggle_a_path(catalog: MethodCatalog) -> None:
    decision = authorize(KEY_A, "GET", "/demo/apps/A?x=/../../B/reviews", catalog)
    assert (decision.allowed, decision.method, decision.app_id) == (True, "apps.read", "A")


def test_bad_path_detail_is_for_logs(catalog: MethodCatalog) -> None:
    decision = authorize(ADMIN, "GET", "/demo/apps/a%2Fb", catalog)
    assert decision.detail is not None
    assert "encoded slash" in decision.detail
    assert "slash" not in decision.message


@pytest.mark.parametrize(
    ("decision", "message", "error"),
    [
        (Decision(True, 200, "allowed", "apps.read", "A"), "OK", None),
        (Decision(True, 200, "public"), "OK", None),
        (
            Decision(False, 401, "no_principal", "apps.read"),
            "Authentication is required",
            Unauthenticated,
        ),
        (Decision(False, 401, "no_route"), "Authentication is required", Unauthenticated),
        (Decision(False, 403, "app_not_in_scope", "apps.read", "B"), "Not allowed", Forbidden),
        (Decision(False, 403, "no_route"), "Not allowed", Forbidden),
        (
            Decision(False, 400, "bad_path", detail="dot segment"),
            "The request is malformed",
            InvalidRequest,
        ),
    ],
)
def test_public_message_never_leaks_the_reason(
    decision: Decision, message: str, error: type[Exception] | None
) -> None:
    assert decision.message == message
    assert decision.reason not in decision.message
    raised = decision.error()
    if error is None:
        assert raised is None
        return
    assert type(raised) is error
    assert raised is not None
    assert raised.message == message
    assert raised.detail is not None
    assert raised.detail.startswith(decision.reason)
    assert str(raised) == message


def test_decision_is_frozen() -> None:
    decision = Decision(False, 403, "no_route")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.allowed = True  # type: ignore[misc]
