from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from propusk.core.catalog import (
    CatalogError,
    Method,
    MethodCatalog,
    load_catalog,
    parse_catalog,
    parse_route,
)
from propusk.core.paths import PathError

DEMO = Path(__file__).parent.parent / "vectors" / "catalog_demo.toml"


def method(name: str, kind: str, *routes: str) -> str:
    """One [[methods]] table of TOML."""
    listed = ", ".join(f'"{r}"' for r in routes)
    return f'[[methods]]\nname = "{name}"\nkind = "{kind}"\nroutes = [{listed}]\n'


@pytest.fixture(scope="module")
def demo() -> MethodCatalog:
    return load_catalog(DEMO)


# -- valid catalogs ------------------------------------------------------------------------


def test_demo_catalog_loads(demo: MethodCatalog) -> None:
    assert set(demo.methods) == {
        "apps.read",
        "apps.create",
        "apps.list",
        "reviews.list",
        "reviews.reply",
        "reports.read",
        "docs.private",
    }
    read = demo.methods["apps.read"]
    assert read.kind == "app"
    assert read.description == "Read an app"
    assert [str(r) for r in read.routes] == ["GET /demo/apps/{app_id}", "HEAD /demo/apps/{app_id}"]
    assert demo.methods["apps.list"].description == ""
    assert demo.roles["admin"] == frozenset(demo.methods)  # "*" expanded
    assert demo.roles["user"] == {"apps.read", "apps.list", "reviews.list"}
    assert demo.roles["viewer"] == frozenset()
    assert [str(r) for r in demo.public] == ["GET /demo/health", "GET /demo/docs/{page}"]


def test_catalog_is_frozen(demo: MethodCatalog) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo.methods = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        demo.methods["x"] = demo.methods["apps.read"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo.methods["apps.read"].name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "",
        'public = ["GET /"]',
        method("a", "general", "GET /"),
        method("a.b_c-9", "app", "GET /x/{app_id}", "DELETE /x/{app_id}/y/{item}"),
        method("a" * 64, "general", "OPTIONS /x"),
        method("a", "general", "GET /x/{id}") + method("b", "general", "POST /x/{id}"),
        # literal beats placeholder: ordered, so not ambiguous
        method("a", "app", "GET /apps/{app_id}") + method("b", "general", "GET /apps/new"),
        method("a", "general", "GET /a/{x}/{y}") + method("b", "general", "GET /a/b/{y}"),
        method("a", "general", "GET /a/{x}/c") + method("b", "general", "GET /a/b/d"),
        # same shape, different lengths or verbs: no overlap
        method("a", "general", "GET /a/{x}") + method("b", "general", "GET /a/{x}/{y}"),
        method("a", "general", "GET /a/{x}", "PUT /a/{y}"),
        method("a", "general", "GET /v1/things:search", "GET /~user/a.b_c-d@e+f,g=h!$&'()*"),
        method("a", "general", "GET /x") + "[roles]\nr = ['a', '*']\n",
    ],
)
def test_valid_catalogs(text: str) -> None:
    parse_catalog(text)


# -- invalid catalogs ------------------------------------------------------------------------

M = method


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("methods = [", "not valid TOML"),
        ("version = 1", "unknown key(s) version"),
        ("methods = 1", "methods: expected an array"),
        ("roles = 1", "roles: expected a table"),
        ("public = 'GET /x'", "public: expected an array of strings"),
        ('public = ["GET x"]', 'public: route "GET x": the path must start'),
        ('public = ["GET /x", "GET /x"]', 'public: route "GET /x" repeats public: route'),
        ("methods = [1]", "methods entry 1: expected a table"),
        ('[[methods]]\nkind = "app"', "methods entry 1: name None must be a string"),
        (M("Apps", "general", "GET /x"), 'method "Apps": name must be 1-64 characters'),
        (M("a" * 65, "general", "GET /x"), "must be 1-64 characters"),
        (M("a b", "general", "GET /x"), 'method "a b": name must be'),
        (M("*", "general", "GET /x"), 'method "*": name must be'),
        (M("a", "general", "GET /x") + 'route = "GET /y"', 'method "a": unknown key(s) route'),
        (M("a", "public", "GET /x"), "method \"a\": kind 'public' must be"),
        ('[[methods]]\nname = "a"\nroutes = ["GET /x"]', 'method "a": kind None'),
        (M("a", "general"), 'method "a": routes must not be empty'),
        ('[[methods]]\nname = "a"\nkind = "app"', 'method "a": routes: expected an array'),
        (
            '[[methods]]\nname = "a"\nkind = "general"\ndescription = 1\nroutes = ["GET /x"]',
            'method "a": description must be a string',
        ),
        (M("a", "general", "GET /x") + M("a", "general", "GET /y"), 'method "a": declared twice'),
        # routes
        (M("a", "general", "FETCH /x"), 'method "a": route "FETCH /x": unknown verb \'FETCH\''),
        (M("a", "general", "get /x"), "route \"get /x\": unknown verb 'get'"),
        (M("a", "general", "GET"), 'route "GET": expected "VERB /path"'),
        (M("a", "general", "GET  /x"), "the path must start with '/'"),
        (M("a", "general", "GET x"), 'route "GET x": the path must start'),
        (M("a", "general", "GET /x/"), 'route "GET /x/": trailing slash'),
        (M("a", "general", "GET /x//y"), 'route "GET /x//y": empty segment'),
        (M("a", "general", "GET //"), "empty segment"),
        (M("a", "general", "GET /x/../y"), "segment '..' is neither"),
        (M("a", "general", "GET /x/./y"), "segment '.' is neither"),
        (M("a", "general", "GET /x%2Fy"), "segment 'x%2Fy' is neither"),
        (M("a", "general", "GET /x y"), "segment 'x y' is neither"),
        (M("a", "general", "GET /x;y"), "segment 'x;y' is neither"),
        (M("a", "general", "GET /x?y=1"), "segment 'x?y=1' is neither"),
        (M("a", "general", "GET /{id}.json"), "segment '{id}.json' is neither"),
        (M("a", "general", "GET /{1id}"), "segment '{1id}' is neither"),
        (M("a", "general", "GET /{}"), "segment '{}' is neither"),
        (M("a", "general", "GET /" + "/x" * 64), "more than 64 segments"),
        (
            M("a", "general", "GET /x/{id}/y/{id}"),
            'method "a": route "GET /x/{id}/y/{id}": placeholder {id} appears twice',
        ),
        # kinds
        (
            M("a", "app", "GET /apps/{app_id}", "GET /apps"),
            'method "a": route "GET /apps": an app method route needs {app_id}',
        ),
        (
            M("a", "app", "GET /apps/{id}"),
            'method "a": route "GET /apps/{id}": an app method route needs {app_id}',
        ),
        (
            M("a", "general", "GET /apps/{app_id}/stats"),
            'method "a": route "GET /apps/{app_id}/stats": a general method route must not',
        ),
        # one (verb, path) per owner
        (
            M("a", "general", "GET /x") + M("b", "general", "GET /x"),
            'method "b": route "GET /x" repeats method "a": route "GET /x"',
        ),
        (M("a", "general", "GET /x", "GET /x"), 'method "a": route "GET /x" repeats method "a"'),
        (
            'public = ["GET /x"]\n' + M("a", "general", "GET /x"),
            'public: route "GET /x" repeats method "a": route "GET /x"',
        ),
        # ambiguity
        (
            M("a", "general", "GET /a/{x}") + M("b", "general", "GET /a/{y}"),
            'method "b": route "GET /a/{y}" matches exactly the same paths as '
            'method "a": route "GET /a/{x}"',
        ),
        (
            M("a", "app", "GET /apps/{app_id}") + M("b", "general", "GET /apps/{id}"),
            "matches exactly the same paths",
        ),
        (
            M("a", "general", "GET /a/{x}/c") + M("b", "general", "GET /a/b/{y}"),
            'method "a": route "GET /a/{x}/c" and method "b": route "GET /a/b/{y}" both match '
            "GET /a/b/c and neither is more specific",
        ),
        (
            'public = ["GET /docs/{p}/raw"]\n' + M("a", "general", "GET /docs/x/{q}"),
            "both match GET /docs/x/raw",
        ),
        # roles
        (
            M("a", "general", "GET /x") + "[roles]\nuser = ['a', 'b']\n",
            'role "user": unknown method "b"',
        ),
        (M("a", "general", "GET /x") + "[roles]\nuser = 'a'\n", 'role "user": expected an array'),
        (M("a", "general", "GET /x") + "[roles]\nuser = [1]\n", 'role "user": expected an array'),
        (M("a", "general", "GET /x") + '[roles]\n"Bad Role" = ["a"]\n', 'role "Bad Role": name'),
    ],
)
def test_invalid_catalogs(text: str, fragment: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(fragment)):
        parse_catalog(text, source="test.toml")


def test_error_names_the_source(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"^test\.toml: "):
        parse_catalog("x = 1", source="test.toml")
    file = tmp_path / "catalog.toml"
    file.write_bytes(b"\xff")
    with pytest.raises(CatalogError, match=r"catalog\.toml: not UTF-8"):
        load_catalog(file)
    assert issubclass(CatalogError, ValueError)


def test_build_checks_methods_made_in_code() -> None:
    route = parse_route("GET /apps")
    empty = MethodCatalog.build([])  # an empty catalog is valid and matches nothing
    assert empty.match("GET", "/apps") is None
    with pytest.raises(CatalogError, match='method "a": route "GET /apps": an app method'):
        MethodCatalog.build([Method("a", "app", "", (route,))])


# -- matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "path", "name", "params"),
    [
        ("GET", "/demo/apps/A1", "apps.read", {"app_id": "A1"}),
        ("HEAD", "/demo/apps/A1", "apps.read", {"app_id": "A1"}),
        ("GET", "/demo/apps/new", "apps.create", {}),  # literal beats placeholder
        ("GET", "/demo/apps/New", "apps.read", {"app_id": "New"}),  # literals are exact
        ("GET", "/demo/apps/%6Eew", "apps.create", {}),  # matched after decoding
        ("POST", "/demo/apps", "apps.create", {}),
        ("GET", "/demo/apps", "apps.list", {}),
        ("GET", "/demo/apps?app_id=B", "apps.list", {}),
        ("GET", "/demo/apps/A%20B/reviews", "reviews.list", {"app_id": "A B"}),
        ("GET", "/demo/apps/caf%C3%A9/reviews", "reviews.list", {"app_id": "café"}),
        ("GET", "/demo/apps/new/reviews", "reviews.list", {"app_id": "new"}),  # backtracks
        (
            "POST",
            "/demo/apps/A1/reviews/r%2B1/reply",
            "reviews.reply",
            {"app_id": "A1", "review_id": "r+1"},
        ),
        ("GET", "/demo/reports/2024-06", "reports.read", {"report_id": "2024-06"}),
        ("GET", "/demo/docs/internal", "docs.private", {}),  # more specific than public
    ],
)
def test_match(
    demo: MethodCatalog, verb: str, path: str, name: str, params: dict[str, str]
) -> None:
    found = demo.match(verb, path)
    assert found is not None
    assert found.method is not None
    assert found.method.name == name
    assert dict(found.params) == params
    assert not found.is_public
    assert not demo.is_public(verb, path)


@pytest.mark.parametrize(
    ("verb", "path"),
    [
        ("GET", "/demo"),
        ("GET", "/"),
        ("GET", "/demo/apps/A1/reviews/extra"),  # extra segment
        ("POST", "/demo/apps/A1/reviews/r1"),  # missing segment
        ("GET", "/demo/apps/"),  # trailing slash is not /demo/apps nor {app_id}=""
        ("GET", "/demo/apps/A1/"),
        ("GET", "/demo/reports/"),
        ("get", "/demo/apps/A1"),  # verbs are case-sensitive
        ("Get", "/demo/apps"),
        ("HEAD", "/demo/apps"),  # HEAD is not implied by GET
        ("HEAD", "/demo/reports/1"),
        ("OPTIONS", "/demo/apps/A1"),
        ("FETCH", "/demo/apps/A1"),
        ("", "/demo/apps/A1"),
        ("DELETE", "/demo/apps/A1"),
        ("GET", "/Demo/apps"),
        ("GET", "/demo/apps;x=1"),
    ],
)
def test_no_match(demo: MethodCatalog, verb: str, path: str) -> None:
    assert demo.match(verb, path) is None
    assert not demo.is_public(verb, path)


@pytest.mark.parametrize("path", ["/demo/health", "/demo/docs/intro", "/demo/docs/a%20b?x=1"])
def test_public(demo: MethodCatalog, path: str) -> None:
    assert demo.is_public("GET", path)
    found = demo.match("GET", path)
    assert found is not None
    assert found.is_public
    assert found.method is None


def test_match_takes_segments_or_refuses_hostile_paths(demo: MethodCatalog) -> None:
    found = demo.match("GET", ["demo", "apps", "a/b"])  # already-decoded segments
    assert found is not None
    assert found.params == {"app_id": "a/b"}
    with pytest.raises(PathError):
        demo.match("GET", "/demo/apps/%2e%2e/reports")


def test_root_route() -> None:
    catalog = parse_catalog('public = ["GET /"]')
    assert catalog.is_public("GET", "/")
    assert catalog.is_public("GET", "/?x=1")
    assert not catalog.is_public("GET", "/x")
