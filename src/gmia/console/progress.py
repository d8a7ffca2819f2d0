"""Progress display for long stages (training stacks), on stderr so results stay clean on stdout.

On a terminal: live bars. Elsewhere (CI logs, files): one line per tenth of a task, so a long
run still shows it is alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class StepProgress:
    """``task(description, total, done)`` returns a callback that advances a bar by n steps."""

    def __init__(self, console: Console | None = None):
        self.console = Console(stderr=True)
        self.live = self.console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), console=self.console, transient=False,
        )

    def __enter__(self) -> "StepProgress":
        if self.live:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self._progress.__exit__(*exc)

    def task(self, description: str, total: int, done: int = 0, unit: str = "model-steps") -> Callable[[int], None]:
        """``total`` and ``done`` count ``unit``s: model-steps (models × optimiser steps) by default."""
        if done:
            self.stage(f"{description}: resuming, {done}/{total} {unit} already done")
        if self.live:
            task_id = self._progress.add_task(f"{description} ({unit})", total=total, completed=done)
            return lambda n: self._progress.advance(task_id, n)
        state = {"done": done, "next": done + total / 10, "start": time.perf_counter()}

        def tick(n: int) -> None:
            state["done"] += n
            if state["done"] >= state["next"] or state["done"] >= total:
                state["next"] += total / 10
                elapsed = time.perf_counter() - state["start"]
                self.console.print(f"{description}: {state['done']}/{total} {unit}, {elapsed:.0f}s", highlight=False)

        return tick

    def stage(self, text: str) -> None:
        self.console.print(f"[{time.strftime('%H:%M:%S')}] {text}", highlight=False, markup=False)
