"""Progress bars for the long operator commands: on a terminal only (stderr), so pipes and logs get just the result."""

from __future__ import annotations

import sys

import click


class TerminalProgress:
    """A callable progress(done, total, label=...) that draws one click progress bar per label; nothing off a
    terminal."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._bar = None
        self._bar_label = None

    def __call__(self, done: int, total: int, label: str | None = None) -> None:
        if not self.enabled:
            return
        label = label or self.label
        if self._bar is None or label != self._bar_label:
            self.close()
            self._bar = click.progressbar(length=max(total, 1), label=label, file=self.stream, show_pos=True)
            self._bar.__enter__()
            self._bar_label = label
        self._bar.length = max(total, done, 1)
        self._bar.update(done - self._bar.pos)

    def for_table(self, table: str, done: int, total: int) -> None:
        """The copy's callback: one bar per table."""
        self(done, total, f"{self.label} {table}")

    def close(self) -> None:
        """Finish the current bar (a newline on the terminal)."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
