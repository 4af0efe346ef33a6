"""``jobqueue top``: a live full-screen view of a running API's throughput, depth and workers,
the terminal twin of the dashboard's overview; ``q`` quits."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from jobqueue.cli.client import API_URL, ApiUrl, request
from jobqueue.cli.keys import keypresses
from jobqueue.cli.tls_options import TlsCa
from jobqueue.cli.top_view import frame
from jobqueue.errors import JobqueueError

PAGE_WORKERS = 1000


def register(app: typer.Typer) -> None:
    """Add ``jobqueue top`` to the app."""
    app.command("top")(top)


def top(
    api_url: ApiUrl = API_URL,
    interval_s: Annotated[
        float, typer.Option("--interval-s", min=0.2, help="Seconds between refreshes.")
    ] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Print one frame and exit (no full screen).")
    ] = False,
    tls_ca: TlsCa = None,
) -> None:
    """Watch throughput, queue depth and the workers live; q quits."""
    if once:
        overview, workers = read(api_url, tls_ca)
        Console().print(frame(overview, workers, None, api_url))
        return
    watch(api_url, interval_s, tls_ca)


def read(api_url: str, tls_ca: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The overview and the first page of workers (none when the API has no registry)."""
    overview = request(api_url, "GET", "/stats/overview", tls_ca=tls_ca)
    try:
        page = request(api_url, "GET", "/workers", params={"limit": PAGE_WORKERS}, tls_ca=tls_ca)
    except JobqueueError:
        page = {"workers": []}
    return overview, list(page.get("workers", []))


def watch(api_url: str, interval_s: float, tls_ca: str | None) -> None:
    """Redraw every ``interval_s`` until ``q`` (or Ctrl-C); an API that stops answering is
    said on screen while the last figures stay."""
    overview: dict[str, Any] | None = None
    workers: list[dict[str, Any]] = []
    console = Console()
    with keypresses() as keys, Live(console=console, screen=True, auto_refresh=False) as live:
        while True:
            problem = None
            try:
                overview, workers = read(api_url, tls_ca)
            except JobqueueError as exc:
                problem = str(exc)
            live.update(frame(overview, workers, problem, api_url), refresh=True)
            try:
                if (keys.wait(interval_s) or "").lower() == "q":
                    return
            except KeyboardInterrupt:
                return
