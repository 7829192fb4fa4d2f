from __future__ import annotations

import pytest

from propusk.core.paths import MAX_PATH_BYTES, MAX_SEGMENTS, PathError, normalize_path


@pytest.mark.parametrize(
    ("raw", "segments"),
    [
        ("/", []),
        ("/demo", ["demo"]),
        ("/demo/apps/A1", ["demo", "apps", "A1"]),
        # query and fragment are not part of the path, whatever they contain
        ("/demo/apps/x?y=/reports", ["demo", "apps", "x"]),
        ("/demo/apps/x?y=/../%2f", ["demo", "apps", "x"]),
        ("/demo/apps/x#/reports", ["demo", "apps", "x"]),
        ("/demo/a#frag?notquery", ["demo", "a"]),
        ("/demo?", ["demo"]),
        # trailing slash kept as an empty last segment: distinct from /demo/apps
        ("/demo/apps/", ["demo", "apps", ""]),
        # decoded once
        ("/demo/apps/caf%C3%A9", ["demo", "apps", "café"]),
        ("/demo/apps/%41pp%20one", ["demo", "apps", "App one"]),
        ("/demo/%61pps", ["demo", "apps"]),
        ("/demo/a%3Fb%23c", ["demo", "a?b#c"]),
        ("/demo/a+b", ["demo", "a+b"]),  # '+' is not a space in a path
        ("/demo/100%25", ["demo", "100%"]),  # %25 not followed by hex: a literal percent
        ("/demo/%25zz", ["demo", "%zz"]),
        # dots that are not dot segments
        ("/demo/...", ["demo", "..."]),
        ("/demo/.well-known/x", ["demo", ".well-known", "x"]),
        ("/demo/a..b", ["demo", "a..b"]),
        ("/demo/v1.2", ["demo", "v1.2"]),
        ("/demo/a;b=c", ["demo", "a;b=c"]),
        ("/demo/%D0%BF%D1%80%D0%BE%D0%BF%D1%83%D1%81%D0%BA", ["demo", "пропуск"]),
        ("/" + "/".join(["s"] * MAX_SEGMENTS), ["s"] * MAX_SEGMENTS),
        ("/" + "a" * (MAX_PATH_BYTES - 1), ["a" * (MAX_PATH_BYTES - 1)]),
    ],
)
def test_normalized(raw: str, segments: list[str]) -> None:
    assert normalize_path(raw) == segments


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        # dot segments, raw, encoded, mixed, with servlet path parameters
        ("/demo/apps/%2e%2e/reports", "dot segment"),
        ("/demo/apps/%2E%2E/reports", "dot segment"),
        ("/demo/apps/.%2e/reports", "dot segment"),
        ("/demo/./reports", "dot segment"),
        ("/demo/../reports", "dot segment"),
        ("/demo/%2e/reports", "dot segment"),
        ("/demo/apps/..", "dot segment"),
        ("/demo/apps/../", "dot segment"),
        ("/demo/..;/reports", "dot segment"),
        ("/demo/..;jsessionid=1/reports", "dot segment"),
        ("/demo/..%3b/reports", "dot segment"),
        ("/demo/;x/reports", "dot segment"),
        ("/demo/%EF%BC%8E%EF%BC%8E/reports", "look-alike"),  # fullwidth '..'
        ("/demo/a%EF%BC%8Fb", "look-alike"),  # fullwidth solidus
        ("/demo/a%EF%BC%BCb", "look-alike"),  # fullwidth reverse solidus
        # encoded separators
        ("/demo/apps/a%2Fb", "encoded slash"),
        ("/demo/apps/a%2fb", "encoded slash"),
        ("/demo/apps/..%2f", "encoded slash"),
        ("/demo/apps/..%2freports", "encoded slash"),
        ("/demo/apps/a%5Cb", "encoded slash"),
        ("/demo/apps/a%5cb", "encoded slash"),
        # double encoding
        ("/demo/%252e%252e/", "double percent-encoding"),
        ("/demo/a%252Fb", "double percent-encoding"),
        ("/demo/a%2500", "double percent-encoding"),
        # NUL and control characters, encoded
        ("/demo/apps/%00", "control character"),
        ("/demo/apps/a%0Ab", "control character"),
        ("/demo/apps/a%0d%0aSet-Cookie:x", "control character"),
        ("/demo/apps/a%7F", "control character"),
        ("/demo/apps/a%C2%85", "control character"),  # U+0085, a C1 control
        # raw characters that must be encoded
        ("\\demo", "must start with '/'"),
        ("/demo\\apps", "must be percent-encoded"),
        ("/demo/apps/\x00", "must be percent-encoded"),
        ("/demo/apps/a\tb", "must be percent-encoded"),
        ("/demo/apps/a\r\nb", "must be percent-encoded"),
        ("/demo/a b", "must be percent-encoded"),
        ("/demo/caf\u00e9", "must be percent-encoded"),
        ("/demo/{app_id}", "must be percent-encoded"),
        ("/demo/a|b", "must be percent-encoded"),
        # empty segments
        ("//demo/reports", "empty path segment"),
        ("/demo//reports", "empty path segment"),
        ("//", "empty path segment"),
        # not origin form
        ("", "must start with '/'"),
        ("demo/apps", "must start with '/'"),
        ("http://evil.example/demo", "must start with '/'"),
        ("*", "must start with '/'"),
        ("?/demo", "must start with '/'"),
        # invalid percent-encoding and UTF-8
        ("/demo/%", "invalid percent-encoding"),
        ("/demo/%4", "invalid percent-encoding"),
        ("/demo/%zz", "invalid percent-encoding"),
        ("/demo/%%41", "invalid percent-encoding"),
        ("/demo/%FF", "not valid UTF-8"),
        ("/demo/%C0%AE%C0%AE/x", "not valid UTF-8"),  # overlong '.'
        ("/demo/%ED%A0%80", "not valid UTF-8"),  # a lone surrogate
        # sizes
        ("/" + "a" * MAX_PATH_BYTES, "longer than"),
        ("/" + "/".join(["s"] * (MAX_SEGMENTS + 1)), "more than"),
    ],
)
def test_refused(raw: str, fragment: str) -> None:
    with pytest.raises(PathError, match=fragment.replace("?", r"\?")):
        normalize_path(raw)


def test_path_error_is_value_error() -> None:
    assert issubclass(PathError, ValueError)


def test_length_counts_the_path_not_the_query() -> None:
    assert normalize_path("/a?" + "q" * 10_000) == ["a"]


def _reference_refuses(path: str) -> bool:
    """The segment rule spelled out: refuse a segment whose part before ';' is '', '.'
    or '..', except a final empty segment (the trailing slash)."""
    segments = path[1:].split("/")
    return any(
        segment.split(";", 1)[0] in ("", ".", "..") and (segment or index < len(segments) - 1)
        for index, segment in enumerate(segments)
    )


def test_segment_rule_matches_its_reference() -> None:
    # normalize_path checks raw segments with one regular expression for speed; compare it
    # exhaustively with the plain definition on every path of up to three tricky segments.
    tokens = ["", ".", "..", "...", "a", ";x", ".;x", "..;x", "...;x", ".a", "a.", "a;b", ";"]
    paths = ["/" + t for t in tokens]
    paths += ["/" + a + "/" + b for a in tokens for b in tokens]
    paths += ["/" + a + "/" + b + "/" + c for a in tokens for b in tokens for c in tokens]
    for path in paths:
        if path == "/":
            continue
        try:
            normalize_path(path)
            refused = False
        except PathError:
            refused = True
        assert refused is _reference_refuses(path), path
