"""RFC 9421 ``Signature-Input`` and ``Signature`` fields read into an
:class:`UnverifiedSignature` (the first of the three steps in
:mod:`propusk.core.http_signatures`), under a :class:`SignaturePolicy`'s limits.

Deny by default: a closed set of signature parameters with exact types, derived components
without parameters, header-field components without ``sf``/``key``/``bs``/``req``/``tr``,
duplicate labels, parameters or components refused, one signature per request unless the
policy names a label, and size limits checked before any parsing.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import http_sf
from http_sf.innerlist import ser_innerlist

from propusk.core.errors import InvalidSignature
from propusk.core.records import fast_init

__all__ = [
    "DERIVED_COMPONENTS",
    "FIELD_NAME",
    "HttpSignatureError",
    "SignaturePolicy",
    "UnverifiedSignature",
    "fast_byte_sequence",
    "parse_signature",
]

DERIVED_COMPONENTS = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}
    | {"@status"}
)
PARAMETERS = {"created": int, "expires": int, "keyid": str, "alg": str, "nonce": str, "tag": str}
FIELD_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")


class HttpSignatureError(InvalidSignature):
    """Any refusal of an RFC 9421 signature: opaque to the caller, the reason in ``detail``."""

    message = "The request signature is invalid"


@dataclass(frozen=True)
class SignaturePolicy:
    """What a verifier demands. ``required`` lists groups of components; each group must
    have at least one member covered (``@target-uri`` or ``@path``). With
    ``require_body_digest``, ``content-digest`` is demanded on top whenever the request has
    a body or a Content-Digest field."""

    required: tuple[frozenset[str], ...] = (
        frozenset({"@method"}),
        frozenset({"@target-uri", "@path"}),
    )
    require_body_digest: bool = True
    max_age: int = 300
    clock_skew: int = 5
    require_nonce: bool = True
    max_nonce_chars: int = 128
    max_field_chars: int = 8192
    max_components: int = 32
    label: str | None = None


@fast_init  # one per request
@dataclass(frozen=True)
class UnverifiedSignature:
    """One signature as read from the fields; nothing in it is trusted yet."""

    label: str
    components: tuple[str, ...]
    params: Mapping[str, int | str]
    signature_params: str  # the serialized inner list: the "@signature-params" value
    signature: bytes = field(repr=False)

    @property
    def keyid(self) -> str | None:
        value = self.params.get("keyid")
        return value if isinstance(value, str) else None

    @property
    def alg(self) -> str | None:
        value = self.params.get("alg")
        return value if isinstance(value, str) else None


def _refuse_duplicate(key: str, context: str) -> None:
    raise HttpSignatureError(detail=f"duplicate {context} key {key!r}")


# A strict subset of RFC 8941 read with three regular expressions: one dictionary member,
# strings without escapes, non-negative integers, single spaces, no boolean parameters; in
# that subset the text is its own canonical serialization. Anything else (and any doubt)
# goes to the full http_sf parser, so the two can only agree: the fast path saves the
# per-character work that made parsing cost more than an RSA verify.
_KEY = r"[a-z*][a-z0-9_\-.*]*"
_STR = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
_INT = r"(?:0|[1-9][0-9]{0,14})"
_FAST_INPUT = re.compile(
    rf"({_KEY})=(\(((?:{_STR})(?: {_STR})*)?\)((?:;{_KEY}=(?:{_STR}|{_INT}))*))"
)
_KEY_ONLY = re.compile(_KEY)
_ITEM = re.compile(_STR)
_PARAM = re.compile(rf";({_KEY})=({_STR}|{_INT})")
Parsed = dict[str, tuple[Any, dict[str, Any]]]


def _fast_input(value: str) -> tuple[Parsed, str] | None:
    """The one-member Signature-Input in the simple subset, and its inner list's text."""
    match = _FAST_INPUT.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    label, inner, items, params_text = match.groups()
    members: list[tuple[str, dict[str, Any]]] = [
        (item[1:-1], {}) for item in _ITEM.findall(items or "")
    ]
    pairs = _PARAM.findall(params_text)
    params: dict[str, Any] = {
        key: raw[1:-1] if raw.startswith('"') else int(raw) for key, raw in pairs
    }
    if len(params) != len(pairs):
        return None  # a repeated parameter: the full parser refuses it by name
    return {label: (members, params)}, inner


def fast_byte_sequence(value: str) -> tuple[str, bytes] | None:
    """``key=:base64:`` (one dictionary member, canonical padded Base64), or None."""
    # Split by hand rather than scan the Base64 with a regex: a key has no "=", and the
    # strict decoder refuses anything but the alphabet and trailing padding (":" included),
    # so this accepts exactly what ``key=:[A-Za-z0-9+/]*={0,2}:`` with length % 4 == 0 does.
    key, sep, rest = value.strip(" \t").partition("=:")
    if not sep or rest[-1:] != ":" or _KEY_ONLY.fullmatch(key) is None:
        return None
    encoded = rest[:-1]
    if len(encoded) % 4:
        return None
    try:
        return key, binascii.a2b_base64(encoded, strict_mode=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return None


def _dictionary(name: str, value: str) -> Parsed:
    try:
        parsed = http_sf.parse(
            value.encode("ascii"), tltype="dictionary", on_duplicate_key=_refuse_duplicate
        )
    except (ValueError, UnicodeEncodeError) as exc:
        raise HttpSignatureError(detail=f"{name} is not a structured dictionary") from exc
    assert isinstance(parsed, dict)
    if not parsed:
        raise HttpSignatureError(detail=f"{name} is empty")
    return parsed  # type: ignore[return-value]


def _fields(signature_input: str, signature: str, limit: int) -> tuple[Parsed, Parsed, str | None]:
    """Both fields parsed (fast path when both allow it) and the inner list's text."""
    for name, value in (("Signature-Input", signature_input), ("Signature", signature)):
        if len(value) > limit:
            raise HttpSignatureError(detail=f"{name} is longer than {limit} characters")
    fast_in, fast_sig = _fast_input(signature_input), fast_byte_sequence(signature)
    if fast_in is not None and fast_sig is not None:
        return fast_in[0], {fast_sig[0]: (fast_sig[1], {})}, fast_in[1]
    inputs = _dictionary("Signature-Input", signature_input)
    return inputs, _dictionary("Signature", signature), None


# Validated component tuples by their inner-list text: a client covers the same components
# on every request, so the per-name checks run once per distinct list. Only lists that pass
# are kept, and the table is bounded (cleared when full) so odd input cannot grow it.
_COMPONENTS: dict[str, tuple[str, ...]] = {}
_MAX_COMPONENT_LISTS = 1024
_STR_PARAMS = frozenset(key for key, kind in PARAMETERS.items() if kind is str)
_INT_PARAMS = frozenset(key for key, kind in PARAMETERS.items() if kind is int)
_DEFAULT_POLICY = SignaturePolicy()


def _checked_components(items: str | None) -> tuple[str, ...] | None:
    """The fast-path inner list's names if each passes the checks of
    :func:`parse_signature`, else None (the full path then names the fault)."""
    # _FAST_INPUT's strings hold no '"', so '" "' separates them exactly.
    names = items[1:-1].split('" "') if items else []
    for index, name in enumerate(names):
        if name in names[:index]:
            return None
        if name.startswith("@"):
            if name not in DERIVED_COMPONENTS:
                return None
        elif not FIELD_NAME.fullmatch(name):
            return None
    return tuple(names)


def _fast_parse(
    signature_input: str, signature: str, policy: SignaturePolicy
) -> UnverifiedSignature | None:
    """The usual request (one signature in the simple subset, nothing refused) read in one
    pass; None whenever anything is off, so the full path raises its precise error."""
    match = _FAST_INPUT.fullmatch(signature_input.strip(" \t"))
    if match is None:
        return None
    label, inner, items, params_text = match.groups()
    if policy.label is not None and label != policy.label:
        return None
    fast_sig = fast_byte_sequence(signature)
    if fast_sig is None or fast_sig[0] != label or not fast_sig[1]:
        return None
    key = items or ""
    components = _COMPONENTS.get(key)
    if components is None:
        components = _checked_components(items)
        if components is None:
            return None
        if len(_COMPONENTS) >= _MAX_COMPONENT_LISTS:
            _COMPONENTS.clear()
        _COMPONENTS[key] = components
    if len(components) > policy.max_components:
        return None
    params: dict[str, int | str] = {}
    for name, raw in _PARAM.findall(params_text):
        if name in params:
            return None
        if raw[0] == '"':
            if name not in _STR_PARAMS:
                return None
            params[name] = raw[1:-1]
        elif name in _INT_PARAMS:
            params[name] = int(raw)
        else:
            return None
    return UnverifiedSignature(label, components, params, inner, fast_sig[1])


def parse_signature(
    signature_input: str, signature: str, policy: SignaturePolicy | None = None
) -> UnverifiedSignature:
    """Read ``Signature-Input`` and ``Signature`` into one :class:`UnverifiedSignature`."""
    policy = policy or _DEFAULT_POLICY
    limit = policy.max_field_chars
    if len(signature_input) <= limit and len(signature) <= limit:
        fast = _fast_parse(signature_input, signature, policy)
        if fast is not None:
            return fast
    inputs, signatures, inner = _fields(signature_input, signature, policy.max_field_chars)
    if set(inputs) != set(signatures):
        raise HttpSignatureError(detail="Signature-Input and Signature labels differ")
    if policy.label is not None:
        label = policy.label
        if label not in inputs:
            raise HttpSignatureError(detail=f"no signature labelled {label!r}")
    elif len(inputs) != 1:
        raise HttpSignatureError(detail="more than one signature and no label configured")
    else:
        label = next(iter(inputs))
    members, params = inputs[label]
    if not isinstance(members, list):
        raise HttpSignatureError(detail="Signature-Input member is not an inner list")
    if len(members) > policy.max_components:
        raise HttpSignatureError(detail="too many covered components")
    components: list[str] = []
    for name, item_params in members:
        if type(name) is not str:
            raise HttpSignatureError(detail="a component identifier is not a string")
        if item_params:
            raise HttpSignatureError(detail=f"component parameters are not supported ({name})")
        if name in components:
            raise HttpSignatureError(detail=f"component {name} covered twice")
        if name.startswith("@"):
            if name not in DERIVED_COMPONENTS:
                raise HttpSignatureError(detail=f"unsupported derived component {name}")
        elif not FIELD_NAME.fullmatch(name):
            raise HttpSignatureError(detail="invalid field name in Signature-Input")
        components.append(name)
    for key, value in params.items():
        expected = PARAMETERS.get(key)
        if expected is None:
            raise HttpSignatureError(detail=f"unknown signature parameter {key!r}")
        if type(value) is not expected:  # bool is an int subclass: compare types exactly
            raise HttpSignatureError(detail=f"signature parameter {key} has the wrong type")
    value, sig_params = signatures[label]
    if not isinstance(value, bytes) or sig_params:
        raise HttpSignatureError(detail="Signature member is not a byte sequence")
    if not value:
        raise HttpSignatureError(detail="Signature member is empty")
    return UnverifiedSignature(
        label=label,
        components=tuple(components),
        params=dict(params),
        signature_params=inner if inner is not None else ser_innerlist((members, params)),
        signature=value,
    )
