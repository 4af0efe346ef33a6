"""Parse ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` broker URLs."""

from __future__ import annotations

from pathlib import Path

from jobqueue.brokers import redact_url
from jobqueue.errors import ConfigError

_FORMS = "use sqlite:///relative/path.db or sqlite:////absolute/path.db"


def database_path(url: str) -> Path:
    """The database file a broker URL names; a malformed URL is a :class:`ConfigError`.

    Three slashes then a relative path (resolved against the working directory), or four
    slashes for an absolute path. The path is taken verbatim: no query string, no
    percent-decoding, no in-memory database (it could not be shared between processes).
    """
    scheme, sep, rest = url.partition("://")
    shown = redact_url(url)
    if not sep or scheme.lower() != "sqlite":
        raise ConfigError(f"not a SQLite URL: {shown!r}; {_FORMS}")
    if not rest.startswith("/"):
        raise ConfigError(f"SQLite URL {shown!r} has a host part; {_FORMS}")
    path = rest[1:]
    if not path or path.endswith("/"):
        raise ConfigError(f"SQLite URL {shown!r} names no database file; {_FORMS}")
    if "?" in path or "#" in path:
        raise ConfigError(f"SQLite URL {shown!r} has a query or fragment, which is not supported")
    if path == ":memory:":
        raise ConfigError("an in-memory SQLite database cannot be shared by processes; name a file")
    return Path(path)
