"""Pauses of the whole machine, seen from the controller (the lab runs on the same machine).

When the machine (a virtual machine) is paused, its monotonic clock stands still and its wall clock is stepped forward
on resume: `time.time() - time.monotonic()` grows by the pause. On the lab this was seen once as a 35.6 s step at the
same instant in the GC logs of all three nodes (their uptime 1 s on, the wall clock 36.6 s on); for about 40 s after
it, the nodes dropped each other's messages as expired and a QUORUM client's reads timed out. Such a pause is no
judgement of the collection: the lab tests name it when a test fails, and a client drill that spans one is run again.
"""
from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

# Steps below this are the wall clock's own corrections, not a pause.
PAUSE_SECONDS = 2.0


def wall_offset() -> float:
    return time.time() - time.monotonic()


class PauseWatch:
    """How far the wall clock stepped ahead of the monotonic clock since it was made (or last reset)."""

    def __init__(self) -> None:
        self.began = wall_offset()

    def paused(self) -> float:
        """Seconds the machine was paused (0.0 under PAUSE_SECONDS)."""
        step = wall_offset() - self.began
        return step if step >= PAUSE_SECONDS else 0.0


def watch(interval: float, seen: Callable[[str], None]) -> None:
    """Give each pause as it ends, with the wall-clock time it ended, to `seen`."""
    base = wall_offset()
    while True:
        time.sleep(interval)
        offset = wall_offset()
        if offset - base >= PAUSE_SECONDS:
            seen(f"{time.strftime('%H:%M:%S')} the machine was paused for {offset - base:.1f} s")
        base = offset


def watch_in_background(interval: float = 1.0) -> list[str]:
    """The pauses seen from now on, appended by a daemon thread (for a pytest session)."""
    pauses: list[str] = []
    threading.Thread(target=watch, args=(interval, pauses.append), daemon=True).start()
    return pauses


def main() -> None:
    parser = argparse.ArgumentParser(description="Print each pause of the machine as it ends (for a whole ./dev test).")
    parser.add_argument("--interval", type=float, default=1.0)
    watch(parser.parse_args().interval, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
