"""A progress bar per resource while loading: rows so far and rows per second."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text


class _RowsPerSecond(ProgressColumn):
    """Rows per second, blank until rich has measured a speed."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:>10,.0f} rows/s" if speed else f"{'':>10} rows/s")


class RowProgress:
    """Context manager yielding (progress, task), or (None, 0) when quiet or not on a terminal."""

    def __init__(self, label: str, *, disabled: bool, console: Console) -> None:
        self.label, self.disabled, self.console = label, disabled, console
        self.progress: Progress | None = None

    def __enter__(self) -> tuple[Progress | None, TaskID]:
        if self.disabled:
            return None, TaskID(0)
        self.progress = Progress(
            TextColumn("{task.description}"),
            TextColumn("{task.completed:>12,.0f} rows"),
            _RowsPerSecond(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        return self.progress, self.progress.add_task(self.label, total=None)

    def __exit__(self, *_exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
