"""The worker's link to the control plane: registration, heartbeats with its stats, commands."""

from __future__ import annotations

from jobqueue.tls import ClientTls
from jobqueue.worker.worker import ControlLink, Worker


def control_link(
    worker: Worker,
    target: str,
    interval_s: float,
    tls: ClientTls | None = None,
    token: str | None = None,
) -> ControlLink:
    """Register ``worker`` with the API's gRPC service at ``target`` (``host:port``, or any
    gRPC target, such as ``ipv4:a:port,b:port`` naming several replicas; over TLS
    with ``tls``) and heartbeat its stats every ``interval_s``; the pause/resume/drain commands
    the replies carry go to :meth:`Worker.command`, the jobs they cancel to
    :meth:`Worker.cancel_jobs`, what the fleet serves to :meth:`Worker.fleet_seen`, and a
    refusal to :meth:`Worker.refuse`. ``token`` goes with every call. Jobs run whether or not
    the API can be reached."""
    from jobqueue.control.client import ControlClient  # gRPC is loaded only by workers using it
    from jobqueue.tls.credentials import channel_credentials

    return ControlClient(
        target,
        worker.stats,
        worker.command,
        interval_s,
        on_cancel=worker.cancel_jobs,
        on_fleet=worker.fleet_seen,
        on_refused=worker.refuse,
        credentials=None if tls is None else channel_credentials(tls),
        token=token,
    )
