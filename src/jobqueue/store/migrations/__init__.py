"""The store's versioned schema migrations: alembic scripts, run by ``jobqueue db upgrade``."""
