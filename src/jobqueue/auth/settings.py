"""What ``jobqueue api`` can be told about authentication; each field is a ``JOBQUEUE_*``
variable and a flag."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from jobqueue.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Tokens besides the store's, the escape hatch for an open API, and who may go without.

    ``tokens_file`` / ``tokens``: ``NAME:SCOPES:SECRET`` lines (a file, or a variable's text).
    ``insecure``: serve beyond loopback with no token (warned at every start).
    ``open_probes``: ``/readyz`` and ``/metrics`` answer without a token.
    ``tokenless_worker_networks``: CIDRs from which gRPC workers without a token are admitted
    while auth is on (the original's workers send none), for a rolling upgrade.
    """

    tokens_file: str | None = None
    tokens: str | None = None
    insecure: bool = False
    open_probes: bool = False
    tokenless_worker_networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for cidr in self.tokenless_worker_networks:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ConfigError(
                    f"tokenless worker network {cidr!r} is not a network (e.g. 10.0.0.0/8)"
                ) from None

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The token-less workers' networks, parsed."""
        return tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in self.tokenless_worker_networks
        )
