"""Where a lab test's time went (tests/lab/refusal.py): each playbook run's tasks with their seconds, from the json
callback's report, noted when CORRAL_LAB_TIMES names a file."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from refusal import note_times, task_seconds


def task(name: str, start: str, end: str | None) -> dict[str, Any]:
    duration = {"start": f"2026-12-07T10:{start}Z", **({"end": f"2026-12-07T10:{end}Z"} if end else {})}
    return {"task": {"name": name, "id": "x", "duration": duration}, "hosts": {}}


REPORT = {"plays": [
    {"play": {"name": "one"}, "tasks": [task("Read", "00:00.000000", "00:02.500000"),
                                        task("Run a sidekick", "00:03.000000", "00:20.000000")]},
    {"play": {"name": "two"}, "tasks": [task("Killed", "00:21.000000", None)]},
]}


def test_each_task_has_its_seconds_and_the_gap_before_it() -> None:
    assert task_seconds(REPORT) == [
        {"task": "Read", "seconds": 2.5, "gap": 0.0},
        {"task": "Run a sidekick", "seconds": 17.0, "gap": 0.5},
        # A task without an end (the run was killed in it) counts nothing.
        {"task": "Killed", "seconds": 0.0, "gap": 1.0},
    ]


def test_a_run_is_one_line_with_the_names_of_its_variables_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/lab/restore/test_restore.py::test_x (call)")
    notes = tmp_path / "times.jsonl"
    note_times(str(notes), "restore.yml", {"backup_name": "r2", "restore_tables": "ks.t"}, 0, 12.34, REPORT)
    note_times(str(notes), "backup.yml", {}, 2, 1.0, {"plays": []})
    first, second = (json.loads(line) for line in notes.read_text().splitlines())
    assert first["extra_vars"] == ["backup_name", "restore_tables"] and first["seconds"] == 12.3
    assert first["test"].endswith("test_x (call)") and len(first["tasks"]) == 3
    assert second == {"test": first["test"], "playbook": "backup.yml", "extra_vars": [], "rc": 2, "seconds": 1.0,
                      "tasks": []}
