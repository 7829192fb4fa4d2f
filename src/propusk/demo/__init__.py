"""A small protected API that ships with Propusk so every flow can be tried at once."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_CATALOG"]

DEMO_CATALOG = Path(__file__).parent / "catalog.toml"
