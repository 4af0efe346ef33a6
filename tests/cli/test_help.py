"""``--help`` of every command at 80 and 200 columns: option names whole, no metavar on flags."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from jobqueue.cli import app


def _command_paths(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*path, name))
    return paths


def _command(path: tuple[str, ...]) -> typer.core.TyperCommand:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command  # type: ignore[return-value]


COMMANDS = _command_paths(typer.main.get_command(app))


def _help(path: tuple[str, ...], columns: int) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_checked() -> None:
    assert {("worker",), ("dlq", "list"), ("workers",), ("db", "current")} <= set(COMMANDS)


@pytest.mark.parametrize("columns", [80, 200])
@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_shows_every_option_name_whole_within_the_width(
    path: tuple[str, ...], columns: int
) -> None:
    output = _help(path, columns)

    assert max(len(line) for line in output.splitlines()) <= columns
    assert "…" not in output
    for param in _command(path).params:
        for name in (*param.opts, *param.secondary_opts):
            if name.startswith("-"):
                assert name in output.replace(",", " ").split(), name


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_a_flag_shows_no_metavar(path: tuple[str, ...]) -> None:
    output = _help(path, 80)

    assert "<bool>" not in output
    assert "BOOLEAN" not in output


def test_a_flag_with_a_negative_shows_both_names_on_one_line() -> None:
    output = _help(("worker",), 80)

    assert "--status / --no-status" in output
    assert "--heartbeat-interval-s <float>" in output
