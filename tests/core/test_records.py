"""fast_init: the generated __init__ behaves as a frozen dataclass's own."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from propusk.core.records import fast_init


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    label: str = dataclasses.field(default_factory=str)


@pytest.mark.parametrize("default", [0, None])
def test_a_field_with_a_default_is_refused(default: int | None) -> None:
    @dataclasses.dataclass(frozen=True)
    class WithDefault:
        x: int | None = default

    for cls in (Point, WithDefault):
        with pytest.raises(TypeError, match="has a default"):
            fast_init(cls)


@fast_init
@dataclasses.dataclass(frozen=True)
class Pair:
    left: int
    right: str = dataclasses.field(repr=False)


def test_positional_and_keyword_arguments_fill_the_fields() -> None:
    assert Pair(1, "a") == Pair(left=1, right="a") == Pair(1, right="a")
    assert (Pair(1, "a").left, Pair(1, "a").right) == (1, "a")
    assert repr(Pair(1, "a")) == "Pair(left=1)"
    assert hash(Pair(1, "a")) == hash(Pair(1, "a"))


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, "a", 2), {}), ((1, "a"), {"left": 1}), ((), {"left": 1, "other": 2})],
)
def test_a_wrong_call_is_a_type_error(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        Pair(*args, **kwargs)


def test_the_record_stays_frozen() -> None:
    pair = Pair(1, "a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.left = 2  # type: ignore[misc]


def test_the_signature_is_the_fields() -> None:
    assert list(inspect.signature(Pair).parameters) == ["left", "right"]
    assert Pair.__init__.__qualname__ == "Pair.__init__"


def test_only_frozen_dataclasses() -> None:
    class Plain:
        x: int

    @dataclasses.dataclass
    class Mutable:
        x: int

    for cls in (Plain, Mutable):
        with pytest.raises(TypeError, match="not a frozen dataclass"):
            fast_init(cls)
