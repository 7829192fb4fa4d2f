"""The lifecycle the key-like credentials share (services/credentials.py), run for each kind
through its own service: the same steps, names and answers for service keys, API keys and
signing keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from propusk.core.errors import Forbidden, InvalidRequest, NotFound
from propusk.services.audit import Origin
from propusk.services.credentials import (
    MAX_GRACE_SECONDS,
    Credentials,
    KeyView,
    check_grace,
    grace_until,
)
from propusk.services.scopes import KeyScope
from propusk.services.signing_keys import KeyOptions
from propusk.wiring import Services
from tests.support import ManualClock

ORIGIN = Origin(ip="198.51.100.1")
SCOPE = KeyScope(None, True, ["reviews.read"])


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


# Public keys made once: the services would otherwise generate an RSA pair per key.
SERVICE_PEM = _pem(rsa.generate_private_key(65537, 2048))
PARTNER_PEM = _pem(ec.generate_private_key(ec.SECP256R1()))

Kind = tuple[
    str,  # the audit name
    str,  # the not-found message
    Callable[[Services], Credentials[Any, Any]],
    Callable[[Services, str, str], Awaitable[KeyView]],  # create(actor, org) -> view
]


async def _service_key(services: Services, actor: str, org: str) -> KeyView:
    made = await services.service_keys.create(actor, org, "k", SCOPE, ORIGIN, SERVICE_PEM)
    return made.view


async def _api_key(services: Services, actor: str, org: str) -> KeyView:
    return (await services.api_keys.create(actor, org, "k", SCOPE, ORIGIN)).view


async def _signing_key(services: Services, actor: str, org: str) -> KeyView:
    keys = services.signing_keys
    return await keys.create(actor, org, "k", PARTNER_PEM, SCOPE, ORIGIN, KeyOptions())


KINDS: list[Kind] = [
    ("service_key", "No such service key", lambda s: s.service_keys, _service_key),
    ("api_key", "No such API key", lambda s: s.api_keys, _api_key),
    ("signing_key", "No such signing key", lambda s: s.signing_keys, _signing_key),
]
KIND_IDS = [kind[0] for kind in KINDS]


async def _org(services: Services, email: str) -> tuple[str, str]:
    """An owner (a bootstrapped admin account) and its company with one app."""
    owner, _ = await services.accounts.create_admin(email, "correct horse battery", ORIGIN)
    org = await services.orgs.create(owner, "Partner", "company", ORIGIN)
    await services.orgs.create_app(owner, org.id, "App", ORIGIN)
    return owner, org.id


async def _events(services: Services, kind: str) -> list[tuple[str | None, str | None, Any]]:
    events = await services.audit.events(kind=kind)
    return [(e.target_type, e.target_id, dict(e.data)) for e in events]


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
async def test_get_list_delete_within_the_org(services: Services, kind: Kind) -> None:
    name, not_found, service_of, create = kind
    keys = service_of(services)
    owner, org = await _org(services, f"{name}@example.com")
    view = await create(services, owner, org)
    assert (await keys.get(owner, org, view.key_id)).key_id == view.key_id
    assert [v.key_id for v in await keys.list(owner, org)] == [view.key_id]
    assert await _events(services, f"{name}.created") != []

    # Another org's owner: the key is "not found" in its org, and this org is not its own.
    stranger, other = await _org(services, f"{name}-other@example.com")
    with pytest.raises(NotFound) as info:
        await keys.get(stranger, other, view.key_id)
    assert info.value.message == not_found
    with pytest.raises(NotFound) as info:
        await keys.delete(stranger, org, view.key_id, ORIGIN)
    assert info.value.message == "No such organization"

    await keys.delete(owner, org, view.key_id, ORIGIN)
    assert await _events(services, f"{name}.deleted") == [(name, view.key_id, {"name": "k"})]
    with pytest.raises(NotFound) as info:
        await keys.get(owner, org, view.key_id)
    assert info.value.message == not_found
    assert await keys.list(owner, org) == []


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
async def test_members_read_and_only_managers_change(services: Services, kind: Kind) -> None:
    name, _, service_of, create = kind
    keys = service_of(services)
    owner, org = await _org(services, f"{name}-owner@example.com")
    view = await create(services, owner, org)
    viewer, _ = await services.accounts.create_admin(
        f"{name}-viewer@example.com", "correct horse battery", ORIGIN
    )
    await services.orgs.add_member(owner, org, f"{name}-viewer@example.com", "viewer", ORIGIN)
    assert (await keys.get(viewer, org, view.key_id)).name == "k"
    with pytest.raises(Forbidden):
        await keys.delete(viewer, org, view.key_id, ORIGIN)
    assert await _events(services, f"{name}.deleted") == []  # nothing written


@pytest.mark.parametrize("kind", KINDS[::2], ids=KIND_IDS[::2])
async def test_status_changes_are_written_and_audited_once(
    services: Services, kind: Kind, clock: ManualClock
) -> None:
    name, _, service_of, create = kind
    keys = service_of(services)
    assert hasattr(keys, "set_status")  # service and signing keys are Switchable
    owner, org = await _org(services, f"{name}-status@example.com")
    view = await create(services, owner, org)
    clock.advance(10)
    disabled = await keys.set_status(owner, org, view.key_id, "disabled", ORIGIN)
    assert (disabled.status, disabled.updated_at) == ("disabled", clock.now())
    clock.advance(10)
    again = await keys.set_status(owner, org, view.key_id, "disabled", ORIGIN)
    assert again.updated_at == disabled.updated_at  # already there: no write
    assert len(await _events(services, f"{name}.disabled")) == 1
    enabled = await keys.set_status(owner, org, view.key_id, "active", ORIGIN)
    assert enabled.status == "active"
    assert await _events(services, f"{name}.enabled") == [(name, view.key_id, {})]


async def test_api_keys_are_revoked_not_switched(services: Services) -> None:
    """API keys have no way back from revoked: the lifecycle's set_status is not theirs."""
    assert not hasattr(services.api_keys, "set_status")
    owner, org = await _org(services, "revoke@example.com")
    view = await _api_key(services, owner, org)
    revoked = await services.api_keys.revoke(owner, org, view.key_id, ORIGIN)
    assert revoked.status == "revoked"
    await services.api_keys.revoke(owner, org, view.key_id, ORIGIN)
    events = await services.audit.events(kind="api_key.revoked")
    assert [(e.actor_type, e.actor_id, e.data) for e in events] == [
        ("account", owner, {"reason": "revoked"})
    ]


@pytest.mark.parametrize(
    ("seconds", "ok"),
    [(-1, False), (0, True), (1, True), (MAX_GRACE_SECONDS, True), (MAX_GRACE_SECONDS + 1, False)],
)
def test_grace_period_bounds(seconds: int, ok: bool) -> None:
    if ok:
        check_grace(seconds)
    else:
        with pytest.raises(InvalidRequest):
            check_grace(seconds)


def test_grace_until(clock: ManualClock) -> None:
    now = clock.now()
    assert grace_until(now, 0) is None
    assert grace_until(now, 90) == now + timedelta(seconds=90)
