"""The provider's method catalog: API operations, the HTTP routes they cover, and roles.

The catalog is declared in TOML::

    # Routes anyone may call, without authentication.
    public = ["GET /demo/health", "GET /demo/docs/{page}"]

    [[methods]]
    name = "apps.read"            # 1-64 characters of [a-z0-9._-], unique
    kind = "app"                  # "app": scoped to the credential's apps; "general": not
    description = "Read an app"   # optional
    routes = ["GET /demo/apps/{app_id}", "HEAD /demo/apps/{app_id}"]

    [[methods]]
    name = "reports.list"
    kind = "general"              # returns data of all the org's apps (spec section 1)
    routes = ["GET /demo/reports"]

    [[methods]]
    name = "payments.topup"
    kind = "general"
    dialect = "qiwi-xml"          # optional: the protocol refusals speak (docs/dialects.md)
    routes = ["POST /demo/payments/topup"]

    [roles]                       # account role -> methods it grants; "*" = every method
    admin = ["*"]
    user = ["apps.read"]

Unknown keys are refused (a typo such as ``route =`` must not silently grant nothing or
everything). A route is ``VERB /path`` with one space: the verb is one of :data:`VERBS`,
upper case (HTTP methods are case-sensitive, RFC 9110 section 9.1, so a request with
``get`` matches nothing). ``HEAD`` is **not** implied by ``GET``: deny by default, declare
``HEAD`` where it is meant to be allowed. The path starts with ``/``; each segment is a
literal of unreserved characters (``A-Z a-z 0-9 - . _ ~`` and ``: @ ! $ & ' ( ) * + , =``,
not ``.`` or ``..``) or a whole-segment placeholder ``{name}`` (a Python identifier, once
per route). No empty segments and no trailing slash; ``/`` alone is the root.

Every route of an ``app`` method contains ``{app_id}``; no route of a ``general`` method
does. A (verb, path) pair belongs to one method or to ``public``, never two. Two templates
of one verb that can match the same concrete path must be ordered: one must be strictly
more specific, i.e. match a subset of the other's paths (``/apps/new`` beats
``/apps/{app_id}``). Templates that overlap with neither more specific
(``/a/{x}`` and ``/a/{y}``; ``/a/{x}/c`` and ``/a/b/{y}``) are refused, the rule Go's
``ServeMux`` uses, so that the route Propusk authorizes is the route any sane router serves.

Matching walks a segment trie per verb, built at load time, literals first; in a catalog
without conflicts the first match found that way is the most specific one. Requests are
matched on segments from :func:`propusk.core.paths.normalize_path`, so parameters arrive
percent-decoded. A placeholder never matches an empty segment.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from propusk.core.paths import MAX_SEGMENTS, normalize_path

__all__ = [
    "APP_ID",
    "DIALECTS",
    "KINDS",
    "VERBS",
    "CatalogError",
    "Dialect",
    "Method",
    "MethodCatalog",
    "Route",
    "RouteMatch",
    "load_catalog",
    "parse_catalog",
    "parse_route",
]

APP_ID = "app_id"
KINDS = frozenset({"app", "general"})
VERBS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ALL_METHODS = "*"

_NAME = re.compile(r"[a-z0-9._-]{1,64}")
_LITERAL = re.compile(r"[A-Za-z0-9\-._~:@!$&'()*+,=]+")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOP_KEYS = frozenset({"public", "methods", "roles"})
_METHOD_KEYS = frozenset({"name", "kind", "description", "routes", "dialect", "errors"})
Dialect = Literal["propusk", "rustore", "waves", "qiwi-xml"]
"""The protocol a route's refusals are answered in (docs/dialects.md): Propusk's JSON
error, the RuStore envelope, a Waves node's error body, or the partner XML API's
``<response><result-code …>``. A method that names none leaves it to the credential."""
DIALECTS: frozenset[str] = frozenset(get_args(Dialect))
# ``errors`` is the older name of ``dialect``, from when only the XML envelope existed.
_LEGACY_ERRORS = frozenset({"propusk", "qiwi-xml"})


class CatalogError(ValueError):
    """A catalog that cannot be loaded; the message names the source, method and route."""


@dataclass(frozen=True, slots=True)
class Route:
    """One ``VERB /path`` template. ``pattern`` holds literals, and None for placeholders."""

    verb: str
    path: str
    pattern: tuple[str | None, ...]
    params: tuple[tuple[int, str], ...]  # (segment index, placeholder name)

    def __str__(self) -> str:
        return f"{self.verb} {self.path}"

    @property
    def param_names(self) -> frozenset[str]:
        return frozenset(name for _, name in self.params)


@dataclass(frozen=True, slots=True)
class Method:
    """A catalog method: an API operation and the routes it covers."""

    name: str
    kind: str
    description: str
    routes: tuple[Route, ...]
    dialect: Dialect | None = None  # None: the credential presented decides


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The route a request path resolved to. ``method`` is None for a public route."""

    route: Route
    method: Method | None
    params: Mapping[str, str]

    @property
    def is_public(self) -> bool:
        return self.method is None


def parse_route(text: str) -> Route:
    """Parse ``"VERB /path/{param}"``; raise :class:`CatalogError` naming the problem."""
    verb, sep, path = text.partition(" ")
    if not sep:
        raise CatalogError('expected "VERB /path"')
    if verb not in VERBS:
        raise CatalogError(f"unknown verb {verb!r} (one of {', '.join(sorted(VERBS))})")
    if not path.startswith("/"):
        raise CatalogError("the path must start with '/'")
    if path == "/":
        return Route(verb, path, (), ())
    parts = path[1:].split("/")
    if len(parts) > MAX_SEGMENTS:
        raise CatalogError(f"more than {MAX_SEGMENTS} segments")
    pattern: list[str | None] = []
    params: list[tuple[int, str]] = []
    for index, part in enumerate(parts):
        if not part:
            last = index == len(parts) - 1
            raise CatalogError("trailing slash" if last else "empty segment ('//')")
        placeholder = _PLACEHOLDER.fullmatch(part)
        if placeholder is not None:
            name = placeholder.group(1)
            if any(name == seen for _, seen in params):
                raise CatalogError(f"placeholder {{{name}}} appears twice")
            params.append((index, name))
            pattern.append(None)
        elif _LITERAL.fullmatch(part) is None or part in (".", ".."):
            raise CatalogError(f"segment {part!r} is neither a safe literal nor a {{placeholder}}")
        else:
            pattern.append(part)
    return Route(verb, path, tuple(pattern), tuple(params))


_Entry = tuple[Route, Method | None]


class _Node:
    """A trie node: literal children, one placeholder child, and the route ending here."""

    __slots__ = ("entry", "literals", "param")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.entry: _Entry | None = None


@dataclass(frozen=True, eq=False)
class MethodCatalog:
    """The loaded catalog. Build it with :meth:`build` or :func:`parse_catalog`."""

    methods: Mapping[str, Method]
    roles: Mapping[str, frozenset[str]]  # "*" already expanded
    public: tuple[Route, ...]
    _index: Mapping[str, _Node] = field(repr=False)

    @classmethod
    def build(
        cls,
        methods: Iterable[Method],
        roles: Mapping[str, Iterable[str]] | None = None,
        public: Iterable[Route] = (),
    ) -> MethodCatalog:
        """Check the cross-method rules (see the module docstring) and index the routes."""
        by_name: dict[str, Method] = {}
        for method in methods:
            _check_method(method)
            if method.name in by_name:
                raise CatalogError(f'method "{method.name}": declared twice')
            by_name[method.name] = method
        expanded: dict[str, frozenset[str]] = {}
        for role, names in (roles or {}).items():
            if _NAME.fullmatch(role) is None:
                raise CatalogError(f'role "{role}": name must be 1-64 characters of [a-z0-9._-]')
            granted: set[str] = set()
            for name in names:
                if name == ALL_METHODS:
                    granted.update(by_name)
                elif name in by_name:
                    granted.add(name)
                else:
                    raise CatalogError(f'role "{role}": unknown method "{name}"')
            expanded[role] = frozenset(granted)
        public = tuple(public)
        entries: list[_Entry] = [(r, m) for m in by_name.values() for r in m.routes]
        entries += [(r, None) for r in public]
        index = _build_index(entries)
        return cls(MappingProxyType(by_name), MappingProxyType(expanded), public, index)

    def match(self, verb: str, path: str | Sequence[str]) -> RouteMatch | None:
        """The most specific route for ``verb`` and ``path``, or None.

        ``path`` is a raw request path (normalized here; :class:`PathError` propagates) or
        segments already returned by :func:`normalize_path`.
        """
        root = self._index.get(verb)
        if root is None:
            return None
        segments = normalize_path(path) if isinstance(path, str) else path
        entry = _find(root, segments)
        if entry is None:
            return None
        route, method = entry
        params = {name: segments[position] for position, name in route.params}
        return RouteMatch(route, method, params)

    def is_public(self, verb: str, path: str | Sequence[str]) -> bool:
        """Whether ``verb`` and ``path`` resolve to a route declared in ``public``."""
        found = self.match(verb, path)
        return found is not None and found.method is None


def parse_catalog(text: str, *, source: str = "<catalog>") -> MethodCatalog:
    """Parse and validate a catalog from TOML text. Pure: no I/O."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    try:
        return _from_data(data)
    except CatalogError as exc:
        raise CatalogError(f"{source}: {exc}") from None


def load_catalog(path: str | Path) -> MethodCatalog:
    """Read a catalog file (UTF-8 TOML) and parse it. The only I/O of this module."""
    file = Path(path)
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogError(f"{file}: not UTF-8") from None
    return parse_catalog(text, source=str(file))


# -- parsing and validation -------------------------------------------------------------


def _from_data(data: Mapping[str, Any]) -> MethodCatalog:
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise CatalogError(f"unknown key(s) {', '.join(unknown)} (allowed: public, methods, roles)")
    public = [_route_of(item, "public") for item in _list_of_str(data.get("public", []), "public")]
    raw_methods = data.get("methods", [])
    if not isinstance(raw_methods, list):
        raise CatalogError("methods: expected an array of tables ([[methods]])")
    methods = [_method_of(item, position) for position, item in enumerate(raw_methods, 1)]
    raw_roles = data.get("roles", {})
    if not isinstance(raw_roles, dict):
        raise CatalogError("roles: expected a table ([roles])")
    roles = {role: _list_of_str(names, f'role "{role}"') for role, names in raw_roles.items()}
    return MethodCatalog.build(methods, roles, public)


def _method_of(item: object, position: int) -> Method:
    if not isinstance(item, dict):
        raise CatalogError(f"methods entry {position}: expected a table")
    name = item.get("name")
    if not isinstance(name, str):
        raise CatalogError(f"methods entry {position}: name {name!r} must be a string")
    where = f'method "{name}"'
    unknown = sorted(set(item) - _METHOD_KEYS)
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(unknown)}")
    kind = item.get("kind")
    if not isinstance(kind, str):
        raise CatalogError(f'{where}: kind {kind!r} must be "app" or "general"')
    description = item.get("description", "")
    if not isinstance(description, str):
        raise CatalogError(f"{where}: description must be a string")
    texts = _list_of_str(item.get("routes"), f"{where}: routes")
    routes = tuple(_route_of(text, where) for text in texts)
    return Method(name, kind, description, routes, _dialect_of(item, where))


def _dialect_of(item: Mapping[str, Any], where: str) -> Dialect | None:
    if "errors" in item:
        if "dialect" in item:
            raise CatalogError(f"{where}: give dialect or its older name errors, not both")
        errors = item["errors"]
        if not isinstance(errors, str) or errors not in _LEGACY_ERRORS:
            choices = ", ".join(sorted(_LEGACY_ERRORS))
            raise CatalogError(f"{where}: errors must be one of {choices}")
        return "qiwi-xml" if errors == "qiwi-xml" else "propusk"
    dialect = item.get("dialect")
    if dialect is None:
        return None
    known: tuple[Dialect, ...] = get_args(Dialect)
    for name in known:
        if dialect == name:
            return name  # typed as the Literal, not as the caller's str
    raise CatalogError(f"{where}: dialect must be one of {', '.join(sorted(DIALECTS))}")


def _route_of(text: str, where: str) -> Route:
    try:
        return parse_route(text)
    except CatalogError as exc:
        raise CatalogError(f'{where}: route "{text}": {exc}') from None


def _list_of_str(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: expected an array of strings")
    return [str(v) for v in value]


def _check_method(method: Method) -> None:
    where = f'method "{method.name}"'
    if _NAME.fullmatch(method.name) is None:
        raise CatalogError(f"{where}: name must be 1-64 characters of [a-z0-9._-]")
    if method.kind not in KINDS:
        raise CatalogError(f'{where}: kind {method.kind!r} must be "app" or "general"')
    if not method.routes:
        raise CatalogError(f"{where}: routes must not be empty")
    for route in method.routes:
        has_app = APP_ID in route.param_names
        if method.kind == "app" and not has_app:
            raise CatalogError(f'{where}: route "{route}": an app method route needs {{app_id}}')
        if method.kind == "general" and has_app:
            raise CatalogError(
                f'{where}: route "{route}": a general method route must not have {{app_id}}'
            )


# -- the index ----------------------------------------------------------------------------


def _owner(entry: _Entry) -> str:
    route, method = entry
    who = "public" if method is None else f'method "{method.name}"'
    return f'{who}: route "{route}"'


def _build_index(entries: Sequence[_Entry]) -> dict[str, _Node]:
    roots: dict[str, _Node] = {}
    for entry in entries:
        route = entry[0]
        node = roots.setdefault(route.verb, _Node())
        for literal in route.pattern:
            if literal is None:
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literals.setdefault(literal, _Node())
        if node.entry is not None:
            same = node.entry[0].path == route.path
            problem = "repeats" if same else "matches exactly the same paths as"
            raise CatalogError(f"{_owner(entry)} {problem} {_owner(node.entry)}")
        node.entry = entry
    for entry in entries:
        route = entry[0]
        for other in _overlapping(roots[route.verb], route.pattern, 0):
            if other is entry or _narrower(route, other[0]) or _narrower(other[0], route):
                continue
            example = "/" + "/".join(
                a if a is not None else b if b is not None else "x"
                for a, b in zip(route.pattern, other[0].pattern, strict=True)
            )
            raise CatalogError(
                f"{_owner(entry)} and {_owner(other)} both match {route.verb} {example} "
                "and neither is more specific"
            )
    return roots


def _narrower(a: Route, b: Route) -> bool:
    """Whether every path ``a`` matches is also matched by ``b`` (same length assumed)."""
    return all(y is None or x == y for x, y in zip(a.pattern, b.pattern, strict=True))


def _overlapping(node: _Node, pattern: tuple[str | None, ...], i: int) -> Iterator[_Entry]:
    """Every indexed entry that shares at least one concrete path with ``pattern``."""
    if i == len(pattern):
        if node.entry is not None:
            yield node.entry
        return
    literal = pattern[i]
    if literal is None:
        for child in node.literals.values():
            yield from _overlapping(child, pattern, i + 1)
    elif literal in node.literals:
        yield from _overlapping(node.literals[literal], pattern, i + 1)
    if node.param is not None:
        yield from _overlapping(node.param, pattern, i + 1)


def _find(root: _Node, segments: Sequence[str]) -> _Entry | None:
    """Depth-first, literals before the placeholder; backtracks when a branch dead-ends.

    Iterative: the stack holds the placeholder branches not taken yet, deepest on top, so
    the order is that of the recursive walk. Each trie node is visited at most once.
    """
    n = len(segments)
    node, i = root, 0
    pending: list[tuple[_Node, int]] = []
    while True:
        if i == n:
            if node.entry is not None:
                return node.entry
        else:
            segment = segments[i]
            param = node.param if segment else None  # a placeholder never matches ""
            child = node.literals.get(segment)
            if child is not None:
                if param is not None:
                    pending.append((param, i + 1))
                node, i = child, i + 1
                continue
            if param is not None:
                node, i = param, i + 1
                continue
        if not pending:
            return None
        node, i = pending.pop()
