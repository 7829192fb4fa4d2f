"""``python -m bench.service_tokens [--quick]``: service tokens (spec section 1) decrypted
per second, against a floor and a generic JOSE library measured in the same run.

The ``Public-Token`` of every service-key call is opened by
:meth:`propusk.core.service_tokens.ServiceTokenDecryptor.decrypt`, so it sits on the hot
path. Steps, each over the same set of distinct tokens (one IV and ``jti`` each):

- ``raw``: AES-256-GCM decrypt of the already split and decoded parts with a cached
  ``AESGCM`` object — the floor, what any implementation pays;
- ``joserfc``: ``joserfc.jwe.decrypt_compact`` (dir + A256GCM allowlisted), ``json.loads``
  and a ``JWTClaimsRegistry`` check of iss/exp/iat/sub/jti — a generic JOSE library;
- ``propusk``: ``ServiceTokenDecryptor.decrypt`` (same checks, plus claim types);
- ``authorize``: ``decrypt`` + ``principal()`` + :func:`propusk.core.policy.authorize` of
  ``GET /demo/apps/A1/reviews`` against the demo catalog — what a guarded request costs.

The target is ``propusk`` at least 3 times as fast as ``joserfc``. Each figure is the best
round of several (the least disturbed one); the whole run stays well under 20 s.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwe
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry

from bench.budget import Budget
from bench.report import Section
from propusk.core.catalog import load_catalog
from propusk.core.policy import authorize
from propusk.core.service_tokens import (
    SERVICE_TOKEN_TTL,
    ServiceTokenDecryptor,
    issue_service_token,
)
from propusk.demo import DEMO_CATALOG

__all__ = ["LABELS", "TARGET", "Figures", "main", "measure", "round_seconds", "run"]

TOKENS = 256
ISSUER = "https://propusk.bench"
KID = "stk-bench"
NOW = 1_800_000_000
TARGET = 3.0
"""``propusk`` must decrypt at least this many times as many tokens per second as joserfc."""
_FULL_SECONDS = 2.0
_QUICK_SECONDS = 0.3

LABELS = {
    "raw": "AES-256-GCM decrypt only (floor)",
    "joserfc": "joserfc decrypt_compact + claims",
    "propusk": "ServiceTokenDecryptor.decrypt",
    "authorize": "decrypt + authorize (demo catalog)",
}
"""The steps measured, in order, and how they are printed."""


@dataclass(frozen=True)
class Figures:
    """What one run measured: best nanoseconds per token of each step of :data:`LABELS`."""

    tokens: int
    token_chars: int
    ns_per_op: dict[str, float]
    round_seconds: float

    def per_second(self, step: str) -> float:
        return 1e9 / self.ns_per_op[step]

    def speedup(self, step: str, over: str) -> float:
        """How many times faster ``step`` is than ``over`` (ratio of tokens per second)."""
        return self.ns_per_op[over] / self.ns_per_op[step]


def round_seconds(quick: bool) -> float:
    """How long each step is repeated (the best round is kept)."""
    return _QUICK_SECONDS if quick else _FULL_SECONDS


def _best_ns(run: Callable[[], None], ops: int, seconds: float) -> float:
    best = float("inf")
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        run()
        best = min(best, (time.perf_counter_ns() - start) / ops)
        rounds += 1
    return best


def _unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _tokens(key: bytes) -> list[str]:
    return [
        issue_service_token(
            key,
            KID,
            key_id=f"key-{n % 7}",
            org_id="org-bench",
            apps=["A1", "A2", "A3"],
            methods=["apps.read", "reviews.read", "reviews.reply"],
            issuer=ISSUER,
            issued_at=NOW - n,
            ttl=SERVICE_TOKEN_TTL,
            jti=f"jti-{n:08d}-{os.urandom(8).hex()}",
            generation=1,
            iv=os.urandom(12),  # a benchmark, not the core: randomness is fine here
        )
        for n in range(TOKENS)
    ]


def _runners(key: bytes, tokens: Sequence[str]) -> dict[str, Callable[[], None]]:
    aead = AESGCM(key)
    raw_parts = []
    for token in tokens:
        header, _, iv, ciphertext, tag = token.split(".")
        raw_parts.append((_unb64url(iv), _unb64url(ciphertext) + _unb64url(tag), header.encode()))
    oct_key = OctKey.import_key(key, {"kid": KID})
    registry = JWTClaimsRegistry(
        now=NOW,
        leeway=0,
        iss={"essential": True, "value": ISSUER},
        sub={"essential": True},
        jti={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    decryptor = ServiceTokenDecryptor({KID: key}, issuer=ISSUER)
    catalog = load_catalog(DEMO_CATALOG)

    def raw() -> None:
        decrypt = aead.decrypt
        for iv, sealed, aad in raw_parts:
            decrypt(iv, sealed, aad)

    def joserfc() -> None:
        for token in tokens:
            opened = jwe.decrypt_compact(token, oct_key, algorithms=["dir", "A256GCM"])
            assert opened.plaintext is not None
            registry.validate(json.loads(opened.plaintext))

    def propusk() -> None:
        decrypt = decryptor.decrypt
        for token in tokens:
            decrypt(token, now=NOW)

    def guarded() -> None:
        decrypt = decryptor.decrypt
        for token in tokens:
            principal = decrypt(token, now=NOW).principal()
            if not authorize(principal, "GET", "/demo/apps/A1/reviews", catalog).allowed:
                raise AssertionError("the bench token must be allowed")

    return {"raw": raw, "joserfc": joserfc, "propusk": propusk, "authorize": guarded}


def measure(seconds: float) -> Figures:
    """Issue the tokens, check every step accepts them, then time each for ``seconds``."""
    key = os.urandom(32)
    tokens = _tokens(key)
    runners = _runners(key, tokens)
    for run_once in runners.values():  # warm up, and fail loudly if a step refuses a token
        run_once()
    return Figures(
        tokens=len(tokens),
        token_chars=len(tokens[0]),
        ns_per_op={name: _best_ns(r, len(tokens), seconds) for name, r in runners.items()},
        round_seconds=seconds,
    )


def _verdict(figures: Figures) -> str:
    speedup = figures.speedup("propusk", "joserfc")
    met = "met" if speedup >= TARGET else "NOT met"
    return f"target: propusk >= {TARGET:g}x joserfc: {met} ({speedup:.1f}x)"


def main(quick: bool = False) -> None:
    """Print tokens per second of each step and the ratios the target is about."""
    figures = measure(round_seconds(quick))
    print(
        f"{figures.tokens} distinct tokens of {figures.token_chars} characters; "
        f"best round of at least 3 over about {figures.round_seconds:g} s per step"
    )
    print(f"{'step':<38}{'ns/token':>10}{'tokens/s':>14}{'x floor':>9}")
    for name, ns in figures.ns_per_op.items():
        print(
            f"{LABELS[name]:<38}{ns:>10.0f}{figures.per_second(name):>14,.0f}"
            f"{ns / figures.ns_per_op['raw']:>9.1f}"
        )
    print(f"propusk / joserfc (tokens/s): {figures.speedup('propusk', 'joserfc'):.2f}x")
    floor = figures.speedup("propusk", "raw")
    print(f"propusk / floor   (tokens/s): {floor:.3f}x (the floor is {1 / floor:.0f}x faster)")
    print(_verdict(figures))


def run(budget: Budget) -> Section:
    """The same figures as a harness table (``python -m bench service-tokens``)."""
    figures = measure(budget.authorize_seconds)
    section = Section(
        title="Service tokens decrypted in process (propusk.core.service_tokens)",
        headers=("step", "ns/token", "tokens/s", "x floor"),
    )
    for name, ns in figures.ns_per_op.items():
        section.rows.append(
            (
                LABELS[name],
                f"{ns:.0f}",
                f"{figures.per_second(name):,.0f}",
                f"{ns / figures.ns_per_op['raw']:.1f}",
            )
        )
    section.notes += [
        f"propusk / joserfc: {figures.speedup('propusk', 'joserfc'):.2f}x tokens/s; "
        f"propusk / floor: {figures.speedup('propusk', 'raw'):.2f}x",
        _verdict(figures),
        f"{figures.tokens} distinct tokens; best round over about {figures.round_seconds:g} s",
    ]
    return section


def _cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.service_tokens", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short rounds (noisier)")
    main(quick=parser.parse_args(argv).quick)


if __name__ == "__main__":
    _cli()
