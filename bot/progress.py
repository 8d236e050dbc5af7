"""Progress on the terminal for steps that take seconds: a bar at a terminal, one line otherwise."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class StepBar:
    """A `(label, step, steps)` callback: a tqdm bar on a terminal; when not one (logs, CI), a
    single summary line once the last step is done, so a captured log stays readable."""

    def __init__(self, what: str, stream: TextIO | None = None) -> None:
        self.what = what
        self.stream = stream or sys.stderr
        self._bar = None
        self._t0: float | None = None

    def __call__(self, label: str, step: int, steps: int) -> None:
        if self._t0 is None:
            self._t0 = time.perf_counter()
            if _is_tty(self.stream):
                from tqdm import tqdm

                self._bar = tqdm(total=steps, desc=self.what, file=self.stream, leave=False,
                                 bar_format="{desc} ({n}/{total}) [{elapsed}]")
        if self._bar is not None:
            self._bar.set_description_str(f"{self.what}: {label}", refresh=False)
            self._bar.update(step - self._bar.n)
            self._bar.refresh()
        if step >= steps:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            print(f"citebot: {self.what}: {label} in {time.perf_counter() - self._t0:.1f} s", file=self.stream)
            self._t0 = None


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
