"""Stop signals (SIGTERM from `kill` and SLURM, SIGUSR2 from SLURM before a time limit or on preemption)
handled as SIGINT is: an exception where the process is, so that every ``finally`` runs (claims released,
temp files removed) before it exits."""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import FrameType


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signal.Signals(signum)


@contextmanager
def stop_signals(signals: Iterable[signal.Signals]) -> Iterator[None]:
    """While inside, the first of ``signals`` to arrive raises ``Stopped``; later ones are ignored, so
    that the clean-up the first one started is not cut short (SLURM sends SIGTERM, then SIGUSR2)."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise Stopped(signum)

    signals = list(signals)
    previous = {each: signal.signal(each, stop) for each in signals}
    # A process inherits its parent's blocked signals (e.g. a test runner's, a launcher's): blocked, a stop
    # signal would wait unseen while the process runs on.
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for each, handler in previous.items():
            signal.signal(each, handler)


def sigterm_interrupts() -> AbstractContextManager[None]:
    """While inside, SIGTERM raises ``Stopped`` (SIGINT keeps raising KeyboardInterrupt)."""
    return stop_signals([signal.SIGTERM])


def signal_of(interrupt: KeyboardInterrupt) -> signal.Signals:
    """The signal behind ``interrupt``: the one a ``Stopped`` names, else SIGINT (Ctrl-C)."""
    return interrupt.signum if isinstance(interrupt, Stopped) else signal.SIGINT


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number (130 SIGINT, 143 SIGTERM)."""
    return 128 + signal_of(interrupt)
