"""gRPC credentials from the TLS settings: the API's server side, a worker's channel side.

:func:`channel_credentials` returns channel credentials only, so call credentials (a token)
can be added with ``grpc.composite_channel_credentials``.
"""

from __future__ import annotations

import grpc

from jobqueue.tls import ClientTls, ServerTls

__all__ = ["channel_credentials", "server_credentials"]


def server_credentials(tls: ServerTls) -> grpc.ServerCredentials:
    """The API's certificate; with a client CA, every client must present a certificate it
    signed."""
    return grpc.ssl_server_credentials(
        [(tls.key, tls.cert)],
        root_certificates=tls.client_ca,
        require_client_auth=tls.client_ca is not None,
    )


def channel_credentials(tls: ClientTls) -> grpc.ChannelCredentials:
    """A channel that verifies the API's certificate against ``tls.ca`` (gRPC's default roots
    without one) and presents the client certificate, if any."""
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
    )
