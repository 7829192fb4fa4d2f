"""Use cases. They take stores, a clock and settings, raise PropuskError, and never import
the web framework."""
