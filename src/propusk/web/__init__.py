"""The HTTP edge: FastAPI routes, error envelopes and request limits."""
