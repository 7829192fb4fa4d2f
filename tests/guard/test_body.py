"""read_body: the Content-Length check that runs before any byte is read."""

from __future__ import annotations

from typing import Any

import pytest

from propusk.core.errors import InvalidRequest, PayloadTooLarge
from propusk.guard.body import read_body


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"abc", "more_body": False}


@pytest.mark.parametrize(
    "length",
    [
        "9" * 5000,  # beyond int()'s 4300-digit limit: was a ValueError (a 500)
        "1" + "0" * 30,
        "1025",
        "0" * 5000 + "2048",
    ],
)
async def test_a_content_length_over_the_cap_is_413(length: str) -> None:
    with pytest.raises(PayloadTooLarge):
        await read_body(_receive, length, 1024)


@pytest.mark.parametrize("length", ["-5", "1e3", "²", "", "12 3"])
async def test_a_content_length_that_is_not_digits_is_400(length: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await read_body(_receive, length, 1024)
    assert caught.value.status == 400


@pytest.mark.parametrize("length", ["3", "0" * 5000 + "3", " 3 ", "1024"])
async def test_a_content_length_within_the_cap_reads_the_body(length: str) -> None:
    assert await read_body(_receive, length, 1024) == b"abc"
