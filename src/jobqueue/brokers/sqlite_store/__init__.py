"""The storage layer of the SQLite broker: URL, schema, the connection thread, row operations."""
