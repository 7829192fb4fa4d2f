"""Persistence: SQLAlchemy models, the database handle, migrations, and the cache."""
