"""tests/lab/clock.py: a pause of the machine is a step of the wall clock against the monotonic clock."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "lab"))

import clock


class Clocks:
    """A wall clock and a monotonic clock that a test moves; sleep moves both, pause only the wall clock."""

    def __init__(self) -> None:
        self.wall, self.mono = 1_000_000.0, 50.0

    def sleep(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def pause(self, seconds: float) -> None:
        self.wall += seconds


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    clocks = Clocks()
    monkeypatch.setattr(clock.time, "time", lambda: clocks.wall)
    monkeypatch.setattr(clock.time, "monotonic", lambda: clocks.mono)
    return clocks


def test_time_that_passes_is_no_pause(clocks: Clocks) -> None:
    watch = clock.PauseWatch()
    clocks.sleep(600)
    assert watch.paused() == 0.0


def test_a_step_of_the_wall_clock_alone_is_a_pause(clocks: Clocks) -> None:
    watch = clock.PauseWatch()
    clocks.sleep(10)
    clocks.pause(35.6)
    clocks.sleep(10)
    assert watch.paused() == pytest.approx(35.6)


def test_a_small_correction_is_no_pause(clocks: Clocks) -> None:
    watch = clock.PauseWatch()
    clocks.pause(0.4)
    assert watch.paused() == 0.0


def test_watch_names_each_pause_once(clocks: Clocks, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = iter([0.0, 7.0, 0.0, 0.3, 35.6, 0.0])
    seen: list[str] = []

    def sleep(seconds: float) -> None:
        clocks.sleep(seconds)
        try:
            clocks.pause(next(steps))
        except StopIteration:
            raise KeyboardInterrupt from None

    monkeypatch.setattr(clock.time, "sleep", sleep)
    with pytest.raises(KeyboardInterrupt):
        clock.watch(1.0, seen.append)
    assert [line.split(" ", 1)[1] for line in seen] == [
        "the machine was paused for 7.0 s", "the machine was paused for 35.6 s"]
