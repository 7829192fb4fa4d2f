"""Graceful drain: SIGTERM to a running ``propusk serve`` while requests are in flight. The
server stops accepting connections, finishes the requests it had accepted with their
normal answers, writes the pending lastUsedAt values, and exits 0 (every pass: SQLite)."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.provision import cli, provision
from tests.integration.servers import BIN, free_port, propusk_env, running

pytestmark = pytest.mark.external

OWNER = "drain-owner@example.com"
PASSWORD = "integration pass"
DEADLINE = 10.0  # seconds any one step may take before the test fails


class SlowPost:
    """A POST over a raw socket whose body is sent in two parts. The head asks
    ``Expect: 100-continue``, so the server's ``100 Continue`` says that the app has
    accepted the request and is reading its body when the first half goes out."""

    def __init__(self, port: int, path: str, body: bytes) -> None:
        self._body = body
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        self._sock.sendall(head.encode())
        interim = self._read_until(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        self._sock.sendall(body[: len(body) // 2])

    def _read_until(self, end: bytes) -> bytes:
        data = b""
        while end not in data:
            chunk = self._sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data

    def finish(self) -> tuple[int, dict[str, object]]:
        """Send the rest of the body; the answer's status and JSON body."""
        self._sock.sendall(self._body[len(self._body) // 2 :])
        answer = b""
        # The server closes the connection after the answer (no keep-alive while draining).
        while chunk := self._sock.recv(65536):
            answer += chunk
        self._sock.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body)


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _last_used(database: Path, key_id: str) -> object:
    with sqlite3.connect(database) as conn:
        [(value,)] = conn.execute("SELECT last_used_at FROM api_keys WHERE key_id = ?", (key_id,))
    conn.close()
    return value


def test_sigterm_finishes_the_requests_in_flight_then_exits_0(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = propusk_env(tmp_path / "data", PROPUSK_ISSUER=url)
    cli(env, "init")
    database, log = tmp_path / "data" / "propusk.db", tmp_path / "propusk.log"
    args = [str(BIN / "propusk"), "serve", "--port", str(port)]
    with running(args, f"{url}/status", log, env) as process:
        made = provision(url, env, owner=OWNER, password=PASSWORD, login="shop-drain")
        used = httpx.get(f"{url}/demo/reports", headers={"X-API-Key": made["api_key"]})
        assert used.status_code == 200, used.text
        # Written behind (every 30 s): not in the database yet.
        assert _last_used(database, made["api_key_id"]) is None
        login = json.dumps({"username": OWNER, "password": PASSWORD}).encode()
        in_flight = [SlowPost(port, "/v1/auth/login", login) for _ in range(2)]
        process.send_signal(signal.SIGTERM)
        # The pause between the two halves: until the server has stopped accepting.
        deadline = time.monotonic() + DEADLINE
        while not _refused(port):
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            time.sleep(0.05)
        for request in in_flight:
            status, body = request.finish()
            assert status == 200, body  # the normal answer, not a refusal
            assert str(body["access_token"]).count(".") == 2
        assert process.wait(timeout=DEADLINE) == 0, log.read_text()
    assert _last_used(database, made["api_key_id"]) is not None  # flushed at shutdown
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text
