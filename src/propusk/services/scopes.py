"""The scope a credential asks for (apps and methods), checked against the catalog and the
organization's apps. Shared by every credential kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.core.catalog import MethodCatalog
from propusk.core.errors import InvalidRequest
from propusk.storage.models import App

__all__ = ["MAX_APPS_PER_KEY", "KeyScope", "patched_scope", "resolve_scope"]

# Service tokens carry their key's app list and travel in a request header (8 KiB at most
# in common proxies): 100 app ids keep a token near 5 KiB. The same cap for every kind.
MAX_APPS_PER_KEY = 100


@dataclass(frozen=True)
class KeyScope:
    """What a create or update asks for: explicit apps, or every app that exists now."""

    app_ids: Sequence[str] | None
    all_apps: bool
    methods: Sequence[str]


async def resolve_scope(
    session: AsyncSession, catalog: MethodCatalog, org_id: str, scope: KeyScope
) -> tuple[list[str], list[str]]:
    """Sorted app ids and method names, or InvalidRequest saying what is wrong."""
    methods = sorted(set(scope.methods))
    if not methods:
        raise InvalidRequest("methods must name at least one method")
    unknown = [m for m in methods if m not in catalog.methods]
    if unknown:
        raise InvalidRequest(f"unknown methods: {', '.join(unknown[:10])}")
    org_apps = set(await session.scalars(select(App.id).where(App.org_id == org_id)))
    if scope.all_apps:
        if scope.app_ids:
            raise InvalidRequest("give appIds or allApps, not both")
        # Spec §1: "All apps" is the set of apps that exist now, not apps made later.
        if len(org_apps) > MAX_APPS_PER_KEY:
            raise InvalidRequest(f"a key covers at most {MAX_APPS_PER_KEY} apps")
        return sorted(org_apps), methods
    if scope.app_ids is None:
        raise InvalidRequest("appIds or allApps is required")
    apps = sorted(set(scope.app_ids))
    if len(apps) > MAX_APPS_PER_KEY:
        raise InvalidRequest(f"a key covers at most {MAX_APPS_PER_KEY} apps")
    if any(a not in org_apps for a in apps):
        # The same answer for another org's app and a made-up id: no tenant leaks.
        raise InvalidRequest("appIds must be apps of this organization")
    return apps, methods


def patched_scope(
    app_ids: Sequence[str] | None,
    all_apps: bool | None,
    methods: Sequence[str] | None,
    current_apps: Sequence[str],
    current_methods: Sequence[str],
) -> KeyScope | None:
    """The scope a PATCH asks for: None when it names no part of the scope; otherwise the
    parts it names, with the other half kept as it is."""
    if app_ids is None and not all_apps and methods is None:
        return None
    apps = app_ids if app_ids is not None or all_apps else list(current_apps)
    return KeyScope(apps, bool(all_apps), methods if methods is not None else list(current_methods))
