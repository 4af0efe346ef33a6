"""Tables that fit the terminal: columns give way in a set order, ids are never cut.

Each column is either whole (ids, states, counts: never cut, never wrapped) or free text
(errors, job types: shortened with an ellipsis at its end to the room left). On a narrow
terminal the columns of least use are dropped, one by one, until the rest fit; what is dropped
is always there in the command's ``--json`` output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobqueue.cli.terminal import printable

COLUMN_GAP_CHARS = 3
"""Between two columns: the right padding, the box's divider, the left padding."""
KEEP = 0
"""The ``drop_rank`` of a column that is never dropped."""


@dataclass(frozen=True)
class Column:
    """A column: its header, and how it gives way when the terminal is narrow.

    ``drop_rank``: the column with the highest rank is dropped first; ``KEEP`` never.
    ``min_width``: for free text, the fewest characters it is shown with before it is dropped.
    """

    header: str
    drop_rank: int = KEEP
    free_text: bool = False
    min_width: int = 12
    justify: Literal["left", "right"] = "left"


def fit_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int,
    title: str | None = None,
) -> Table:
    """A table of ``rows`` (one cell per column, escaped here) in ``width`` terminal cells."""
    cells = [[printable(cell) for cell in row] for row in rows]
    natural = [
        max([cell_len(column.header), *(cell_len(row[i]) for row in cells)])
        for i, column in enumerate(columns)
    ]
    kept = _columns_that_fit(columns, natural, width)
    widths = _widths(columns, natural, kept, width)
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i in kept:
        column = columns[i]
        table.add_column(column.header, justify=column.justify, no_wrap=True, width=widths[i])
    for row in cells:
        table.add_row(*(_cell(row[i], widths[i]) for i in kept))
    # A fixed width, even past a terminal too narrow for the ids: then the terminal's own
    # wrapping folds the line, and the ids stay whole.
    table.width = sum(widths[i] for i in kept) + COLUMN_GAP_CHARS * (len(kept) - 1)
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    """Print a table made by :func:`fit_table`, wider than the terminal if it must be."""
    console = console or Console()
    console.print(table, width=max(console.width, table.width or 0))


def terminal_width() -> int:
    """The width of the terminal (``COLUMNS`` when set; 80 when not a terminal)."""
    return Console().width


def _shown_width(column: Column, natural: int) -> int:
    return min(natural, column.min_width) if column.free_text else natural


def _needed(columns: Sequence[Column], natural: list[int], kept: list[int]) -> int:
    shown = sum(_shown_width(columns[i], natural[i]) for i in kept)
    return shown + COLUMN_GAP_CHARS * (len(kept) - 1)


def _columns_that_fit(columns: Sequence[Column], natural: list[int], width: int) -> list[int]:
    """The indexes of the columns kept: the highest-ranked dropped until the rest fit."""
    kept = list(range(len(columns)))
    while _needed(columns, natural, kept) > width:
        droppable = [i for i in kept if columns[i].drop_rank != KEEP]
        if not droppable:
            break
        kept.remove(max(droppable, key=lambda i: columns[i].drop_rank))
    return kept


def _widths(
    columns: Sequence[Column], natural: list[int], kept: list[int], width: int
) -> list[int]:
    """Each kept column's width: whole ones their content's, free text the room left.

    The room left goes to the free-text columns in the order they are kept longest.
    """
    widths = [_shown_width(column, natural[i]) for i, column in enumerate(columns)]
    spare = width - _needed(columns, natural, kept)
    for i in sorted(kept, key=lambda i: columns[i].drop_rank):
        if columns[i].free_text and spare > 0:
            grown = min(natural[i], widths[i] + spare)
            spare -= grown - widths[i]
            widths[i] = grown
    return widths


def _cell(text: str, width: int) -> Text:
    """A cell as plain text (never markup: a ``[red]`` in an error shows as is), cut to fit."""
    cell = Text(text)
    if cell.cell_len > width:
        cell.truncate(width, overflow="ellipsis")
    return cell


def field_table(fields: Sequence[tuple[str, str]]) -> Table:
    """One record as two columns, name and value; values escaped, wrapped at word boundaries.

    A value's own line breaks (a traceback's) are kept; every other control is escaped.
    """
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, value in fields:
        table.add_row(name, Text(printable(value, keep_newlines=True)))
    return table
