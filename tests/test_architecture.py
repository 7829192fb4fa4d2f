"""The layer arrows of docs/architecture.md, held against the code.

Two checks: an AST walk over every module of ``src/propusk`` (every import, also inside
functions and ``TYPE_CHECKING`` blocks, must follow an allowed arrow), and a fresh
interpreter that imports every module of the guard and looks at ``sys.modules`` (what a
resource API embedding the guard really loads).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "propusk"

# layer -> the other layers of propusk it may import. Every layer may import itself.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "config": frozenset({"core"}),
    "guard": frozenset({"core"}),
    "client": frozenset({"core"}),
    "storage": frozenset({"core", "config"}),
    "services": frozenset({"core", "config", "storage"}),
    "demo": frozenset({"guard", "core"}),
    "wiring": frozenset({"core", "config", "storage", "services", "guard", "demo"}),
    "web": frozenset({"core", "config", "services", "guard", "wiring", "demo"}),
    "cli": frozenset({"core", "config", "storage", "services", "wiring", "web", "client"}),
}
# Third-party packages a layer must not import (the guard must embed anywhere; the core
# is pure; the client SDK ships without the server's dependencies).
FORBIDDEN_PACKAGES: dict[str, frozenset[str]] = {
    "core": frozenset({"sqlalchemy", "fastapi", "starlette", "redis", "httpx", "uvicorn"}),
    "guard": frozenset({"sqlalchemy", "fastapi", "redis", "alembic", "uvicorn", "pydantic"}),
    "client": frozenset({"sqlalchemy", "fastapi", "starlette", "redis", "uvicorn"}),
    "services": frozenset({"fastapi", "starlette", "uvicorn"}),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "propusk"


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(SRC.rglob("*.py"))


def test_the_tree_was_found() -> None:
    assert len(MODULES) > 100
    assert {_layer(_module_name(p)) for p in MODULES} >= set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_follow_the_arrows(path: Path) -> None:
    module = _module_name(path)
    layer = _layer(module)
    if layer not in ALLOWED:
        assert layer == "propusk", f"{module}: a layer docs/architecture.md does not name"
        return
    wrong = []
    for line, name in _imports(path):
        top = name.split(".")[0]
        if top == "propusk" and "." in name:
            target = _layer(name)
            if target != layer and target not in ALLOWED[layer]:
                wrong.append(f"line {line}: {name} ({layer} -> {target})")
        elif top in FORBIDDEN_PACKAGES.get(layer, frozenset()):
            wrong.append(f"line {line}: {name} ({layer} must not use {top})")
    assert not wrong, f"{module}: " + "; ".join(wrong)


GUARD_PROBE = """
import importlib, json, pkgutil, sys
import propusk.guard
names = [m.name for m in pkgutil.walk_packages(propusk.guard.__path__, "propusk.guard.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


def test_the_guard_embeds_without_the_server() -> None:
    """Every guard module imported in a fresh interpreter loads no server layer and none of
    the server's frameworks: a resource API can take the guard alone."""
    result = subprocess.run(
        [sys.executable, "-c", GUARD_PROBE], capture_output=True, text=True, check=True
    )
    probe = json.loads(result.stdout)
    assert "propusk.guard.gate" in probe["imported"]
    assert "propusk.guard.remote" in probe["imported"]
    loaded = set(probe["modules"])
    for layer in ("storage", "services", "web", "config", "wiring", "cli", "demo"):
        assert not {
            m for m in loaded if m == f"propusk.{layer}" or m.startswith(f"propusk.{layer}.")
        }
    for package in ("redis", "sqlalchemy", "fastapi", "alembic", "pydantic", "uvicorn"):
        assert package not in loaded, f"the guard loaded {package}"
