"""A small protected API that ships with Propusk so every flow can be tried at once, and a
method catalog for a Waves Enterprise node (with a stand-in node to put behind nginx)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_CATALOG", "WAVES_NODE_CATALOG"]

DEMO_CATALOG = Path(__file__).parent / "catalog.toml"
WAVES_NODE_CATALOG = Path(__file__).parent / "waves_node.toml"
"""The Waves node's REST routes, roles and the ``waves`` dialect (docs/dialects.md)."""
