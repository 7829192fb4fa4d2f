"""The partner XML API: hardened parsing (no DTD, no entities, no external references),
both declared encodings, and the answer envelope."""

from __future__ import annotations

import pytest

from propusk.core.errors import Forbidden, InvalidToken, PayloadTooLarge
from propusk.core.xml_requests import (
    XmlRejected,
    XmlRequest,
    parse_request,
    qiwi_code_for,
    qiwi_response,
)

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE request [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<request><terminal-id>&xxe;</terminal-id></request>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><request><terminal-id>&lol9;</terminal-id></request>"
)


def test_reads_terminal_and_password() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><request><request-type>pay</request-type>'
        b'<terminal-id> 12345 </terminal-id><extra name="password">s3cret</extra>'
        b'<extra name="comment">x</extra></request>'
    )
    assert parse_request(body) == XmlRequest("12345", "s3cret")
    assert "s3cret" not in repr(parse_request(body))


TERMINAL = "Касса-1"  # noqa: RUF001 - Cyrillic on purpose
PASSWORD = "пароль"


def test_windows_1251_and_utf8_declarations() -> None:
    text = (
        f"<request><terminal-id>{TERMINAL}</terminal-id>"
        f'<extra name="password">{PASSWORD}</extra></request>'
    )
    cp = b'<?xml version="1.0" encoding="windows-1251"?>' + text.encode("cp1251")
    utf = b'<?xml version="1.0" encoding="UTF-8"?>' + text.encode("utf-8")
    assert parse_request(cp) == parse_request(utf) == XmlRequest(TERMINAL, PASSWORD)


def test_absent_fields_are_none() -> None:
    assert parse_request(b"<request><request-type>ping</request-type></request>") == XmlRequest(
        None, None
    )
    # A nested terminal-id is not the request's own.
    assert (
        parse_request(b"<request><a><terminal-id>1</terminal-id></a></request>").terminal_id is None
    )


MALFORMED = {
    "xxe": XXE,
    "billion-laughs": BILLION_LAUGHS,
    "external-dtd": b'<!DOCTYPE request SYSTEM "http://example.com/r.dtd"><request/>',
    "internal-dtd-only": b"<!DOCTYPE request><request/>",
    "parameter-entity": b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://x/">%p;]><r/>',
    "empty": b"",
    "blank": b"  \n",
    "not-xml": b'{"terminal": 1}',
    "unclosed": b"<request><terminal-id>1</terminal-id>",
    "two-roots": b"<a/><b/>",
    "unknown-encoding": b'<?xml version="1.0" encoding="x-no-such"?><request/>',
    "bad-utf8": b"<request><terminal-id>\xff\xfe</terminal-id></request>",
    "duplicate-terminal": (
        b"<request><terminal-id>1</terminal-id><terminal-id>2</terminal-id></request>"
    ),
    "duplicate-password": (
        b'<request><extra name="password">a</extra><extra name="password">b</extra></request>'
    ),
    "long-terminal": b"<request><terminal-id>" + b"1" * 300 + b"</terminal-id></request>",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_and_hostile_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(XmlRejected) as caught:
        parse_request(body)
    assert caught.value.status == 400 and caught.value.code == "invalid_xml"


def test_envelope() -> None:
    assert qiwi_response(150) == (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<response><result-code fatal="true">150</result-code></response>'
    )
    assert qiwi_response(0, fatal=False, message='a "b" <c>') == (
        b'<?xml version="1.0" encoding="UTF-8"?><response>'
        b'<result-code fatal="false" message="a &quot;b&quot; &lt;c&gt;">0</result-code>'
        b"</response>"
    )
    assert parse_request(qiwi_response(339)) == XmlRequest(None, None)  # well-formed


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidToken(), 150),
        (Forbidden(), 150),
        (XmlRejected(), 300),
        (PayloadTooLarge(), 300),
    ],
)
def test_result_codes(error: Exception, code: int) -> None:
    from propusk.core.errors import PropuskError

    assert isinstance(error, PropuskError)
    assert qiwi_code_for(error) == code
