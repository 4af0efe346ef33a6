"""Help pages that fit the terminal: option names whole, flags without a metavar.

Typer's own layout shares the width of its options panel among six columns, so at 80 columns
a long option name is cut (``--heartbeat-inter…``), and it shows a flag with a ``<bool>``.
Here each option is one row of two columns, as click's ``--help`` has it: the names (with the
value's metavar, none for a flag), never wrapped, and the help, wrapped at word boundaries.
"""

from __future__ import annotations

import inspect

import typer
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from typer import _click, core  # typer's own click, whose Context its commands take

from jobqueue.cli.terminal import printable


class FittingCommand(core.TyperCommand):
    """A command whose ``--help`` fits the terminal."""

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """Print the help page (``formatter`` is click's, for its plain layout: unused)."""
        print_help(self, ctx)


class FittingGroup(core.TyperGroup):
    """A group of commands whose ``--help`` fits the terminal."""

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """Print the help page (``formatter`` is click's, for its plain layout: unused)."""
        print_help(self, ctx)


def use_fitting_help(app: typer.Typer) -> None:
    """Give every command and group of ``app`` (after they were added) the fitting help."""
    app.info.cls = FittingGroup
    for command in app.registered_commands:
        command.cls = FittingCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            use_fitting_help(group.typer_instance)


def print_help(command: core.TyperCommand | core.TyperGroup, ctx: _click.Context) -> None:
    """The usage line, the description, then a panel each for arguments, options, commands."""
    console = Console()
    console.print(Padding(Text(command.get_usage(ctx), style="bold"), (1, 1, 0, 1)))
    if command.help:
        console.print(Padding(_description(command.help), (1, 1, 0, 1)))
    console.print()
    params = [param for param in command.get_params(ctx) if not getattr(param, "hidden", False)]
    arguments = [param for param in params if isinstance(param, core.TyperArgument)]
    options = [param for param in params if param not in arguments]
    _print_panel(console, "Arguments", [_param_row(param, ctx) for param in arguments])
    _print_panel(console, "Options", [_param_row(param, ctx) for param in options])
    if isinstance(command, core.TyperGroup):
        _print_panel(console, "Commands", _command_rows(command, ctx))


def _description(help_text: str) -> RenderableType:
    """The first paragraph as is, the others dimmed; single line breaks joined."""
    first, *rest = inspect.cleandoc(help_text).partition("\f")[0].split("\n\n")
    paragraphs = [Text(" ".join(first.split()))]
    paragraphs += [Text("\n" + " ".join(p.split()), style="dim") for p in rest]
    return Group(*paragraphs)


def _param_row(param: object, ctx: _click.Context) -> tuple[Text, Text]:
    record = param.get_help_record(ctx)  # type: ignore[attr-defined]
    names, help_text = record if record is not None else ("", "")
    text, sep, extras = help_text.rpartition("  [")  # click's "help  [env var: X; default: Y]"
    if not sep or not extras.endswith("]"):
        text, extras = help_text, ""
    shown = Text(printable(text))
    if extras:
        shown.append(("\n" if text else "") + "[" + printable(extras), style="dim")
    return Text(names, style="bold cyan"), shown


def _command_rows(group: core.TyperGroup, ctx: _click.Context) -> list[tuple[Text, Text]]:
    rows = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        summary = command.short_help or (command.help or "").split("\n\n")[0]
        rows.append((Text(name, style="bold cyan"), Text(" ".join(summary.split()))))
    return rows


def _print_panel(console: Console, title: str, rows: list[tuple[Text, Text]]) -> None:
    if not rows:
        return
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1), expand=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    for row in rows:
        table.add_row(*row)
    console.print(Panel(table, title=title, title_align="left", border_style="dim"))
