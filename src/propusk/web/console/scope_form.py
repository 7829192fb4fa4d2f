"""The scope part of every credential form: apps (or "all apps") and catalog methods.

The markup is ``templates/_scope.html``; these read what it posts and feed what it lists.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from propusk.core.catalog import MethodCatalog
from propusk.services.scopes import KeyScope
from propusk.web.console.org_context import OrgPage, app_names
from propusk.web.console.render import texts

__all__ = ["method_groups", "scope_choices", "scope_from"]


def scope_from(form: FormData) -> KeyScope:
    """Apps and methods as the form posts them: ``app`` checkboxes or ``all_apps``, and
    ``method`` checkboxes."""
    all_apps = form.get("all_apps") == "on"
    apps = texts(form, "app")
    return KeyScope(None if all_apps else apps, all_apps, texts(form, "method"))


def method_groups(catalog: MethodCatalog) -> dict[str, list[tuple[str, str]]]:
    """Catalog methods by kind (``app`` then ``general``), each (name, description)."""
    groups: dict[str, list[tuple[str, str]]] = {"app": [], "general": []}
    for method in sorted(catalog.methods.values(), key=lambda m: m.name):
        groups.setdefault(method.kind, []).append((method.name, method.description))
    return groups


async def scope_choices(view: OrgPage) -> dict[str, Any]:
    """What a page with a scope form and a scope column renders: the organization's
    ``apps``, their ``names`` by id, and the catalog's method ``groups``."""
    apps = await view.apps()
    return {"apps": apps, "names": app_names(apps), "groups": method_groups(view.services.catalog)}
