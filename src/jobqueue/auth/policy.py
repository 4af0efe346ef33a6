"""Safe defaults: authentication is off only on loopback with no tokens; an API that listens
beyond loopback with no token refuses to start unless told ``--insecure``, and says so."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from jobqueue.auth.book import TokenBook
from jobqueue.config import parse_addr
from jobqueue.errors import ConfigError

logger = logging.getLogger("jobqueue.auth")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name that may resolve anywhere


def exposed_addrs(*addrs: str) -> list[str]:
    """Those of ``addrs`` (``host:port``) that listen beyond loopback."""
    return [addr for addr in addrs if not is_loopback(parse_addr(addr, "address")[0])]


def static_token_lines(tokens_file: str | None, tokens_text: str | None) -> list[str]:
    """The ``NAME:SCOPES:SECRET`` lines of a tokens file and of a variable's text (one token
    per line or separated by whitespace)."""
    lines: list[str] = []
    if tokens_file:
        try:
            lines += Path(tokens_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read tokens file {tokens_file}: {exc.strerror}") from None
    if tokens_text:
        lines += tokens_text.split()
    return lines


def check_exposure(book: TokenBook, exposed: list[str], insecure: bool) -> None:
    """Refuse to serve beyond loopback with no token, unless ``insecure``; warn when insecure.

    Called once the store's tokens were read (or could not be: then the book fails closed).
    """
    if not exposed or book.has_tokens or not book.loaded:
        return
    where = ", ".join(exposed)
    if not insecure:
        raise ConfigError(
            f"listening on {where} with no API token would let anyone in: create one "
            "(jobqueue token create NAME --scope submit,read,admin,worker), or pass "
            "--insecure (JOBQUEUE_INSECURE=1) to run open"
        )
    logger.warning(
        "INSECURE: listening on %s with no API token: anyone who can reach it may submit, "
        "cancel, purge and command workers",
        where,
    )
