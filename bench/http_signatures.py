"""RFC 9421 HTTP Message Signatures verified in process, against the raw signature math.

``python -m bench http-signatures`` (also part of ``all``): a real
:class:`~propusk.wiring.Services` over a temporary SQLite database with one
Ed25519 and one RSA-2048 signing key. For 1 KB and 64 KB JSON bodies signed over
``("@method" "@target-uri" "content-digest")`` with ``created``, ``keyid`` and ``alg``,
each step's rate is compared with the raw ``cryptography`` verify of a signature over the
same body (the floor: hashing the body and one public-key operation):

- ``core``: :func:`~propusk.core.http_signatures.parse_signature` (two RFC 8941 fields),
  the signature base, the signature and the Content-Digest (SHA-256 of the body);
- ``verifier``: :class:`~propusk.guard.verifiers.http_signature.HttpMessageSignature`
  on a :class:`~propusk.guard.request.RequestView`: the above plus the cached key
  lookup, the algorithm allowlist, ``lastUsedAt`` noted and the Principal built. One
  signed request is verified over and over, so it carries no nonce (a nonce is accepted
  once) and the policy does not require one; the replay check adds one cache ``add``.

A client-side row: :class:`~propusk.client.signatures.DigitalSignatureAuth` producing the
X-Digital-Sign headers for a body against the raw RSA sign.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bench.budget import Budget
from bench.report import Section
from bench.stats import ratio
from propusk.client.signatures import DigitalSignatureAuth
from propusk.config import load_settings
from propusk.core import digital_sign
from propusk.core.content_digest import content_digest
from propusk.core.http_signatures import (
    HttpMessage,
    PrivateKey,
    SignaturePolicy,
    parse_signature,
    sign_base,
    sign_message,
    verify_base,
    verify_signature,
)
from propusk.guard.request import RequestView
from propusk.guard.verifiers.http_signature import HttpMessageSignature
from propusk.services.audit import Origin
from propusk.services.scopes import KeyScope
from propusk.services.signing_keys import KeyOptions
from propusk.storage import migrate
from propusk.wiring import build_services

__all__ = ["run"]

SIZES = {"1 KB": 1024, "64 KB": 65536}
PATH = "/demo/apps/a1/reviews/r1/reply"
HOST = "api.example"
COMPONENTS = ("@method", "@target-uri", "content-digest")
KEYS: dict[str, tuple[str, Callable[[], PrivateKey]]] = {
    "ed25519": ("Ed25519", ed25519.Ed25519PrivateKey.generate),
    "rsa-pss-sha512": ("SHA512withRSA/PSS", lambda: rsa.generate_private_key(65537, 2048)),
}
SYNC_OPS = 200
# One signed request is verified repeatedly, so it has no nonce and none is required.
POLICY = SignaturePolicy(require_nonce=False, max_age=86400)


async def _case(
    verifier: HttpMessageSignature,
    private: PrivateKey,
    alg: str,
    key_id: str,
    size: int,
    seconds: float,
) -> dict[str, float]:
    """Raw verify, core and verifier for one algorithm and body size."""
    policy = POLICY
    public = private.public_key()
    body = b'{"text": "' + b"x" * (size - 12) + b'"}'
    headers = {
        "host": HOST,
        "content-type": "application/json",
        "content-digest": content_digest(body),
    }
    message = HttpMessage("POST", f"https://{HOST}{PATH}", headers)
    now = int(time.time())
    si, sg = sign_message(
        message,
        private,
        alg=alg,
        keyid=key_id,
        components=COMPONENTS,
        created=now,
    )
    signed = {**headers, "signature-input": si, "signature": sg}
    request = RequestView("POST", PATH, signed, "127.0.0.1", body, scheme="https")
    raw_signature = sign_base(alg, private, body)

    def raw() -> None:
        verify_base(alg, public, raw_signature, body)

    def core() -> None:
        parsed = parse_signature(si, sg, policy)
        verify_signature(parsed, message, public, alg=alg, body=body, now=now, policy=policy)

    async def guard() -> None:
        await verifier.verify(request)  # raises when the request does not verify

    await guard()  # warms the key cache, and checks that the request verifies
    return await _interleaved({"raw": raw, "core": core}, {"guard": guard}, seconds * 3)


async def _interleaved(
    sync_ops: dict[str, Callable[[], object]],
    async_ops: dict[str, Callable[[], Awaitable[object]]],
    seconds: float,
) -> dict[str, float]:
    """Best round of each op, the ops taking turns round by round: load from other
    processes then weighs on every op alike, and the ratios stay meaningful."""
    best = dict.fromkeys([*sync_ops, *async_ops], float("inf"))
    rounds = 0
    deadline = time.perf_counter() + seconds
    while rounds < 3 or time.perf_counter() < deadline:
        for name, op in sync_ops.items():
            start = time.perf_counter_ns()
            for _ in range(SYNC_OPS):
                op()
            best[name] = min(best[name], (time.perf_counter_ns() - start) / SYNC_OPS)
        for name, aop in async_ops.items():
            start = time.perf_counter_ns()
            for _ in range(SYNC_OPS):
                await aop()
            best[name] = min(best[name], (time.perf_counter_ns() - start) / SYNC_OPS)
        rounds += 1
    return best


async def _measure(seconds: float, url: str, tmp: Path) -> dict[tuple[str, str], dict[str, float]]:
    config = tmp / "propusk.toml"
    config.write_text("", encoding="utf-8")
    settings = load_settings(
        config, environ={}, data_dir=tmp, database_url=url, issuer="http://bench"
    )
    services = build_services(settings, master_key=secrets.token_bytes(32))
    figures: dict[tuple[str, str], dict[str, float]] = {}
    try:
        origin = Origin(ip="127.0.0.1", user_agent="bench")
        account, _ = await services.accounts.create_admin(
            "bench@example.com", "bench-password-1234", origin
        )
        org = await services.orgs.create(account, "bench org", "company", origin)
        verifier = HttpMessageSignature(services.signing_keys, services.cache, policy=POLICY)
        for alg, (key_alg, make) in KEYS.items():
            private = make()
            pem = private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            view = await services.signing_keys.create(
                account,
                org.id,
                f"bench {alg}",
                pem.decode(),
                KeyScope([], True, ["reviews.reply"]),
                origin,
                KeyOptions(algorithms=[key_alg]),
            )
            for label, size in SIZES.items():
                figures[(alg, label)] = await _case(
                    verifier, private, alg, view.key_id, size, seconds
                )
        # Client side: the X-Digital-Sign headers for a 1 KB body, RSA-2048 SHA256withRSA.
        client_key = rsa.generate_private_key(65537, 2048)
        auth = DigitalSignatureAuth(client_key, "SHA256withRSA", login="bench")
        body = b"<request>" + b"x" * 1000 + b"</request>"
        figures[("client", "1 KB")] = await _interleaved(
            {
                "raw": lambda: digital_sign.sign("SHA256withRSA", client_key, body),
                "sdk": lambda: auth.headers_for(body),
            },
            {},
            seconds * 2,
        )
        return figures
    finally:
        await services.close()


LABELS = {
    "raw": "cryptography verify over the body (raw)",
    "core": "parse + base + verify + Content-Digest (core)",
    "guard": "HttpMessageSignature.verify",
    "sdk": "DigitalSignatureAuth headers (client)",
}


def run(budget: Budget) -> Section:
    """The in-process table."""
    section = Section(
        title="RFC 9421 signatures verified in process (cached key)",
        headers=("alg", "body", "step", "ns/op", "ops/s", "x raw rate"),
    )
    try:
        with tempfile.TemporaryDirectory(prefix="propusk-bench-httpsig-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'propusk.db'}"
            migrate.upgrade(url)
            figures = asyncio.run(_measure(budget.authorize_seconds, url, Path(tmp)))
    except Exception as exc:  # a benchmark failure must not hide the other tables
        section.notes.append(f"ERROR the benchmark failed: {type(exc).__name__}: {exc}")
        return section
    for (alg, size), steps in figures.items():
        for step, ns in steps.items():
            label = LABELS[step] if alg != "client" or step != "raw" else "cryptography sign (raw)"
            shown = "SHA256withRSA" if alg == "client" else alg
            section.rows.append(
                (
                    shown,
                    size,
                    label,
                    f"{ns:,.0f}",
                    f"{1e9 / ns:,.0f}",
                    f"{ratio(steps['raw'], ns):.2f}",
                )
            )
        if "guard" in steps and steps["raw"] / steps["guard"] < 0.6:
            section.notes.append(
                f"{alg} {size}: {steps['raw'] / steps['guard']:.2f}x the raw rate, "
                "under the 0.6x target"
            )
    section.notes.append(
        "each step: best round of 200 calls, the steps of a row group taking turns round by "
        f"round for about {3 * budget.authorize_seconds:g} s; 'x raw rate' is the step's rate "
        "over the raw one; "
        "no nonce in the measured request (the replay check adds one cache add)"
    )
    return section
