"""Propusk: a self-hosted authorization server and library for API providers."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
