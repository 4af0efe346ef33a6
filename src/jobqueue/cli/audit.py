"""The ``jobqueue audit`` command: the admin actions, newest first, from the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobqueue.cli.client import API_URL, ApiUrl, request
from jobqueue.cli.table import KEEP, Column, fit_table, print_table, terminal_width
from jobqueue.cli.terminal import to_json

AUDIT_COLUMNS = (
    Column("WHEN", KEEP),
    Column("WHO", KEEP),
    Column("ACTION", KEEP),
    Column("TARGET", 3, free_text=True, min_width=12),
    Column("COUNT", 4, justify="right"),
    Column("FROM", 2),
    Column("STATUS", 1, justify="right"),
)


def register(app: typer.Typer) -> None:
    """Add ``jobqueue audit`` to the app."""
    app.command("audit")(audit)


def audit(
    api_url: ApiUrl = API_URL,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many entries.")] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this token's actions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Who did which admin action when, newest first (needs a token with the admin scope)."""
    params: dict[str, Any] = {"limit": limit}
    if actor:
        params["actor"] = actor
    entries: list[dict[str, Any]] = request(api_url, "GET", "/audit", params=params)["entries"]
    if as_json:
        for entry in entries:
            typer.echo(to_json(entry))
        return
    rows = [_row(entry) for entry in entries]
    print_table(fit_table(AUDIT_COLUMNS, rows, terminal_width(), title=f"{len(rows)} entries"))


def _row(entry: dict[str, Any]) -> list[str]:
    count = entry["count"]
    return [
        entry["at"][:19].replace("T", " "),
        entry["actor"],
        entry["action"],
        entry["target"],
        "" if count is None else str(count),
        entry["client"],
        str(entry["status"]),
    ]
