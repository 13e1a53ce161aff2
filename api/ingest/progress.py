"""Load progress: a live bar per resource on a terminal, a plain line per batch elsewhere."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

Advance = Callable[[int], None]
"""Called with the number of rows of each batch written."""


class _RowsPerSecond(ProgressColumn):
    """Rows per second, blank until rich has measured a speed."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:>10,.0f} rows/s" if speed else f"{'':>10} rows/s")


def _ignore(_rows: int) -> None:
    return None


class RowProgress:
    """Context manager yielding an `Advance` for one resource.

    On a terminal it draws a bar (rows so far, rows per second, time). Elsewhere (a log file, a
    pipe, a container's output) it prints one line per batch, `<label>  <rows so far> rows`, so
    the log shows how far a load went. `disabled` prints nothing.
    """

    def __init__(self, label: str, *, disabled: bool, console: Console) -> None:
        self.label, self.disabled, self.console = label, disabled, console
        self.progress: Progress | None = None
        self.rows = 0

    def __enter__(self) -> Advance:
        if self.disabled:
            return _ignore
        if not self.console.is_terminal:
            return self._print_line
        progress = Progress(
            TextColumn("{task.description}"),
            TextColumn("{task.completed:>12,.0f} rows"),
            _RowsPerSecond(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.progress = progress
        progress.start()
        task = progress.add_task(escape(self.label), total=None)
        return lambda rows: progress.update(task, advance=rows)

    def _print_line(self, rows: int) -> None:
        self.rows += rows
        self.console.print(f"{escape(self.label)}  {self.rows:,} rows", soft_wrap=True)

    def __exit__(self, *_exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
