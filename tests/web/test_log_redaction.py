"""Secrets stay out of access logs: the confirmation code in its path, the values of secret
query parameters, and anything shaped like a secret Propusk issued."""

from __future__ import annotations

import pytest

from propusk.web.redaction import redact_path

KEY = "propusk_0123456789abcdef_" + "f" * 64


@pytest.mark.parametrize(
    ("line", "secret", "kept"),
    [
        ("GET /v1/authorize?api_key=s3cr3t-value HTTP/1.1", "s3cr3t-value", "?api_key=[redacted]"),
        ("GET /x?a=1&apiKey=s3cr3t HTTP/1.1", "s3cr3t", "?a=1&apiKey=[redacted]"),
        ("GET /x?API-KEY=s3cr3t&b=2 HTTP/1.1", "s3cr3t", "&b=2"),
        ("GET /cb?code=one-time-code&state=xyz HTTP/1.1", "one-time-code", "state=xyz"),
        ("GET /x?access_token=eyJhbGciOi.eyJzdWIi.sig HTTP/1.1", "eyJhbGciOi", "access_token="),
        ("GET /x?token=t0k3n;next=1 HTTP/1.1", "t0k3n", ";next=1"),
        ("GET /x?password=hunter2 HTTP/1.1", "hunter2", "password=[redacted]"),
        ("GET /x?client_secret=abc123 HTTP/1.1", "abc123", "client_secret=[redacted]"),
        (f"GET /x?k={KEY} HTTP/1.1", KEY, "?k=[redacted]"),
        (f'"GET /demo HTTP/1.1" X-API-Key {KEY}', KEY, "[redacted]"),
        ("GET /v1/user/confirm/propusk_ec_abcDEF-_123 HTTP/1.1", "abcDEF", "confirm/[redacted]"),
    ],
)
def test_secret_values_are_redacted(line: str, secret: str, kept: str) -> None:
    redacted = redact_path(line)
    assert secret not in redacted
    assert kept in redacted


@pytest.mark.parametrize(
    "line",
    [
        "GET /v1/orgs?limit=50&offset=100 HTTP/1.1",
        "GET /demo/apps/a1/reviews?sort=new HTTP/1.1",
        "GET /status HTTP/1.1",
        "GET /x?keyboard=1&tokens_total=3 HTTP/1.1",  # names that only start like a secret
    ],
)
def test_ordinary_lines_are_unchanged(line: str) -> None:
    assert redact_path(line) == line
