"""Normalization of a raw request path before it is matched against the method catalog.

Forward-auth receives the URI the proxy saw (``X-Forwarded-Uri``, nginx ``$request_uri``),
byte for byte as the client sent it. If Propusk and the resource API read one path two
different ways, a request can be authorized as one route and served as another (path
confusion: ``/apps/A/..%2fB``, ``/admin;/``, ``%2e%2e``). So Propusk does not try to
"clean up" a suspicious path the way some servers do: it refuses every form whose meaning
differs between common servers, and only then decodes. A refused path is a 400 for the
caller, whatever its credentials.

:func:`normalize_path` returns the percent-decoded segments of the path. The rules:

1. The query (``?…``) and the fragment (``#…``) are cut off first; they are not part of
   the path. ``/a/b?x=/c`` is the path ``/a/b``.
2. The path must start with ``/`` (origin form). Absolute-form URIs
   (``http://host/p``), ``*`` and relative paths are refused.
3. At most :data:`MAX_PATH_BYTES` bytes and :data:`MAX_SEGMENTS` segments.
4. Raw characters must be those RFC 3986 allows in a path (unreserved, sub-delims, ``:``,
   ``@``, ``%``, ``/``). Everything else is refused raw — backslash (Windows and some
   proxies read it as ``/``), space, control characters, ``"<>^`{|}``, non-ASCII — because
   servers disagree about it. Clients must percent-encode such characters.
5. Every ``%`` must start a valid ``%XX`` escape. ``%25`` followed by two hex digits is
   refused as double encoding (a second decoder, in a proxy or a framework, would turn
   ``%252e`` into ``.``).
6. After decoding once, a segment must be valid UTF-8 (overlong forms are invalid, so
   ``%c0%ae`` is refused) and must not contain ``/`` (``%2F``), ``\\`` (``%5C``), NUL or any
   other control character (C0, DEL, C1).
7. Empty segments (``//``) are refused, and so are dot segments — ``.`` and ``..`` raw or
   encoded (``%2e%2e``), also with a path parameter (``..;x``, which servlet containers
   read as ``..``; ``;x`` alone is an empty segment to them) and in any Unicode form that
   NFKC folds to a dot segment, a slash or a backslash (U+FF0E U+FF0E, U+FF0F).
8. A trailing slash is **kept**: ``/a/b/`` gives ``["a", "b", ""]``, which differs from
   ``/a/b`` (``["a", "b"]``). It is not stripped because servers disagree on whether
   ``/a/b/`` is ``/a/b``; catalog templates cannot end in ``/``, so such a path matches
   nothing and is denied by default rather than silently taken for its neighbour.
   The root ``/`` gives ``[]``.

Nothing here does I/O; the function is pure and raises :class:`PathError` (a
``ValueError``) whose message says which rule failed, for logs only.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

__all__ = ["MAX_PATH_BYTES", "MAX_SEGMENTS", "PathError", "normalize_path"]

MAX_PATH_BYTES = 2048
MAX_SEGMENTS = 64

# RFC 3986 pchar (unreserved / pct-encoded / sub-delims / ":" / "@") plus the separator.
_RAW_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOUBLE_ENCODED = re.compile(r"%25[0-9A-Fa-f]{2}")
# What must never appear in a decoded segment: separators and control characters.
_BAD_DECODED = re.compile(r"[/\\\x00-\x1f\x7f-\x9f]")
_DOT_SEGMENTS = frozenset({"", ".", ".."})
# A raw segment that is empty or a dot segment (also with ``;`` parameters): one search
# over the whole path instead of a Python loop. A final empty segment (trailing slash)
# is allowed; group 1 is the offending segment when it is not the last one.
_BAD_SEGMENT = re.compile(r"/(\.{0,2}(?:;[^/]*)?)(?=/)|/(?:\.{1,2}(?:;[^/]*)?|;[^/]*)$")


class PathError(ValueError):
    """A request path that Propusk refuses to interpret. The message is for logs."""


def normalize_path(raw: str) -> list[str]:
    """Return the percent-decoded segments of ``raw``'s path, or raise :class:`PathError`.

    ``raw`` is the request target as received (path, optionally ``?query`` and
    ``#fragment``). See the module docstring for every rule and why it exists.
    """
    path = raw.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise PathError("the path must start with '/'")
    if len(path) > MAX_PATH_BYTES:  # characters; non-ASCII is refused just below
        raise PathError(f"the path is longer than {MAX_PATH_BYTES} bytes")
    if _RAW_PATH.fullmatch(path) is None:
        raise PathError("the path contains a character that must be percent-encoded")
    if path == "/":
        return []
    if path.count("/") > MAX_SEGMENTS:
        raise PathError(f"the path has more than {MAX_SEGMENTS} segments")
    bad = _BAD_SEGMENT.search(path)
    if bad is not None:
        if bad.group(1) == "":
            raise PathError("empty path segment ('//')")
        raise PathError("dot segment ('.', '..' or ';' parameters only)")
    segments = path[1:].split("/")
    if "%" not in path:
        return segments
    if _BAD_ESCAPE.search(path) is not None:
        raise PathError("invalid percent-encoding")
    if _DOUBLE_ENCODED.search(path) is not None:
        raise PathError("double percent-encoding (%25 followed by hex digits)")
    return [_decode(segment) if "%" in segment else segment for segment in segments]


def _decode(segment: str) -> str:
    try:
        decoded = unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise PathError("the decoded path is not valid UTF-8") from None
    if _BAD_DECODED.search(decoded) is not None:
        raise PathError("an encoded slash, backslash or control character")
    # Escapes are three characters each, so an escaped segment is never empty.
    if _is_dot_segment(decoded):
        raise PathError("dot segment ('.' or '..'), percent-encoded")
    if not decoded.isascii():
        folded = unicodedata.normalize("NFKC", decoded)
        if _BAD_DECODED.search(folded) is not None or _is_dot_segment(folded):
            raise PathError("a Unicode look-alike of a slash, backslash or dot segment")
    return decoded


def _is_dot_segment(segment: str) -> bool:
    # Servlet containers drop path parameters: ``..;jsessionid=x`` is ``..`` to them and
    # ``;x`` is an empty segment. Judge the part before the first ';'.
    return segment.split(";", 1)[0] in _DOT_SEGMENTS
