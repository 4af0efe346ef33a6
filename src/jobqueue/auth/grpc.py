"""The gRPC gate: a server interceptor that lets a WorkerService call through only with a token
granting ``worker`` (``authorization: Bearer TOKEN`` metadata), or, with no token at all, from
a network listed for token-less workers (the original's workers send none)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeAlias
from urllib.parse import unquote

import grpc
import grpc.aio

from jobqueue.auth.book import TokenBook
from jobqueue.auth.scopes import Scope

__all__ = ["WorkerTokenGate", "peer_address", "refusal"]

logger = logging.getLogger("jobqueue.auth")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Refusal = tuple[grpc.StatusCode, str]
_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only

_NO_TOKEN = (
    "an API token with the 'worker' scope is required: send 'authorization: Bearer TOKEN' "
    "metadata (jobqueue worker reads JOBQUEUE_TOKEN)"
)


def peer_address(peer: str) -> Address | None:
    """The IP address in a gRPC peer string (``ipv4:10.1.2.3:5555``, ``ipv6:[::1]:5555``); an
    IPv4-mapped IPv6 address as its IPv4 one; None for anything else (``unix:``)."""
    kind, _, rest = unquote(peer).partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host = rest.rpartition(":")[0].strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _listed(peer: str, networks: Sequence[Network]) -> bool:
    address = peer_address(peer)
    return address is not None and any(address in network for network in networks)


def _authorization(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def _token_refusal(book: TokenBook, header: str, method: str) -> Refusal | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    principal = book.verify(token) if scheme.lower() == "bearer" and token else None
    if principal is None:
        return grpc.StatusCode.UNAUTHENTICATED, "the API token is not valid"
    if not principal.may(Scope.WORKER):
        return (
            grpc.StatusCode.PERMISSION_DENIED,
            f"this token lacks the 'worker' scope, which {method} needs",
        )
    return None


def refusal(
    book: TokenBook,
    networks: Sequence[Network],
    metadata: Iterable[tuple[str, Any]] | None,
    peer: str,
    method: str,
) -> Refusal | None:
    """Why a call must be refused (its status code and message), or None to let it through.

    Auth off: everything passes. A token present is always checked, also from a listed
    network; no token passes only from a listed network.
    """
    if not book.required:
        return None
    header = _authorization(metadata)
    if header is not None:
        return _token_refusal(book, header, method)
    if _listed(peer, networks):
        return None
    return grpc.StatusCode.UNAUTHENTICATED, _NO_TOKEN


class WorkerTokenGate(grpc.aio.ServerInterceptor):
    """Checks every unary call of the server with :func:`refusal` before it runs."""

    def __init__(self, book: TokenBook, networks: Sequence[Network] = ()) -> None:
        self._book = book
        self._networks = tuple(networks)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        """The method's handler, behind the check (streaming handlers are passed as they are:
        the WorkerService has none)."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            self._guard(handler.unary_unary, handler_call_details.method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _guard(self, behaviour: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            refused = refusal(
                self._book, self._networks, context.invocation_metadata(), context.peer(), method
            )
            if refused is not None:
                logger.info("refused %s from %s: %s", method, context.peer(), refused[1])
                await context.abort(*refused)
            return await behaviour(request, context)

        return guarded
