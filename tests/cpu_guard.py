"""A CPU-time guard for tests of text steps on huge inputs: the block fails, rather than hangs, once
it has used its budget of process CPU time.

A super-linear regex on a megabyte runs for hours; `re` checks for signals while it matches, so a
SIGPROF timer interrupts it and the test reports the step instead of stalling the suite.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType


class CpuBudgetExceeded(AssertionError):
    pass


@dataclass
class CpuUse:
    seconds: float = 0.0


@contextmanager
def cpu_budget(seconds: float, what: str) -> Iterator[CpuUse]:
    """Run the block with a budget of `seconds` of process CPU time; `CpuUse.seconds` holds what it used."""

    def _over(_signum: int, _frame: FrameType | None) -> None:
        raise CpuBudgetExceeded(f"{what} used more than {seconds:.1f} s of CPU (stopped)")

    use = CpuUse()
    previous = signal.signal(signal.SIGPROF, _over)
    started = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield use
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        use.seconds = time.process_time() - started
        signal.signal(signal.SIGPROF, previous)
