"""The README's journey: its marked command blocks and expected outputs, and how output is compared.

A fenced `sh` block right after `<!-- journey -->` belongs to the journey, every command of it; after
`<!-- journey: PREFIX -->` only its commands that start with PREFIX. A fenced block right after
`<!-- journey output -->` is what the journey command before it prints: its lines must appear in that
command's output in order and together; a line `...` stands for any other lines.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

MARKER = re.compile(r"^<!--\s*journey(?::\s*(?P<prefix>.*?))?\s*-->$")
OUTPUT_MARKER = re.compile(r"^<!--\s*journey output\s*-->$")
FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")
GAP = "..."
# Shell lines whose effect lasts for the commands after them, as in one terminal.
STATEFUL = re.compile(r"^(\.|source|cd|export)\s")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Figures that differ from run to run: data sizes (nodetool's load) and percentages (ownership).
SIZE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:bytes|B|KiB|MiB|GiB|TiB)\b")
PERCENT = re.compile(r"\b\d+(?:\.\d+)?%")


@dataclass
class Step:
    """One command of the journey, the README line it is on, and the output the README shows after it."""

    command: str
    line: int
    expected: list[str] = field(default_factory=list)

    @property
    def stateful(self) -> bool:
        return bool(STATEFUL.match(self.command))


def _commands(block: list[str]) -> list[tuple[int, str]]:
    """(offset, command) of a shell block: continuation lines joined, blank and comment lines left out."""
    commands: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for offset, line in enumerate(block):
        if not pending:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = offset
        pending.append(line)
        if not line.endswith("\\"):
            commands.append((start, "\n".join(pending)))
            pending = []
    if pending:
        raise ValueError(f"a journey command ends with a continuation backslash: {pending[0]!r}")
    return commands


def journey_steps(readme: str) -> list[Step]:
    """The journey's commands in README order, each with the output block that follows it, if any."""
    lines = readme.splitlines()
    steps: list[Step] = []
    marker: re.Match[str] | None = None
    output_marker = False
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        fence = FENCE.match(line)
        if fence is None:
            if line:
                marker = MARKER.match(line) if not OUTPUT_MARKER.match(line) else None
                output_marker = bool(OUTPUT_MARKER.match(line))
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith("```"):
            end += 1
        if end == len(lines):
            raise ValueError(f"README line {index + 1}: a fenced block that is never closed")
        block = lines[index + 1:end]
        if output_marker:
            if not steps:
                raise ValueError(f"README line {index + 1}: an output block before any journey command")
            if steps[-1].expected:
                raise ValueError(f"README line {index + 1}: a second output block for `{steps[-1].command}`")
            steps[-1].expected = block
        elif marker is not None:
            if fence.group("lang") not in ("sh", "bash", "shell"):
                raise ValueError(f"README line {index + 1}: a journey block must be a shell block, not {fence.group('lang')!r}")
            prefix = marker.group("prefix") or ""
            chosen = [(offset, command) for offset, command in _commands(block) if command.startswith(prefix)]
            if not chosen:
                raise ValueError(f"README line {index + 1}: no command of the block starts with {prefix!r}")
            steps.extend(Step(command, index + 2 + offset) for offset, command in chosen)
        marker, output_marker = None, False
        index = end + 1
    return steps


def _unwrap(line: str) -> str:
    """A line as the reader sees it: an item of a list that Ansible printed as YAML or JSON, unquoted."""
    text = line.strip()
    if text.startswith("- "):
        text = text[2:].strip()
        if len(text) >= 2 and text[0] == text[-1] == "'":
            text = text[1:-1].replace("''", "'")
    elif text.startswith('"'):
        candidate = text[:-1] if text.endswith('",') else text
        if len(candidate) >= 2 and candidate.endswith('"'):
            try:
                decoded = json.loads(candidate)
            except ValueError:
                decoded = None
            if isinstance(decoded, str):
                text = decoded
    return text


def normalise(line: str) -> str:
    """Compared form of a line: unwrapped, run-to-run figures masked, runs of blanks as one space."""
    text = SIZE.sub("<size>", _unwrap(ANSI.sub("", line)))
    text = PERCENT.sub("<percent>", text)
    return " ".join(text.split())


def _find(segment: list[str], seen: list[str], start: int) -> int:
    for position in range(start, len(seen) - len(segment) + 1):
        if seen[position:position + len(segment)] == segment:
            return position
    return -1


def mismatch(expected: list[str], output: str) -> str | None:
    """None when the expected lines appear in the output as the README shows them, else what is missing."""
    seen = [normalise(line) for line in output.splitlines()]
    segments: list[list[str]] = [[]]
    for line in expected:
        if line.strip() == GAP:
            segments.append([])
        else:
            segments[-1].append(line)
    position = 0
    for segment in filter(None, segments):
        wanted = [normalise(line) for line in segment]
        found = _find(wanted, seen, position)
        if found < 0:
            first = _find(wanted[:1], seen, position)
            hint = "its first line is not there" if first < 0 else f"it differs after output line {first + 1}"
            return "these lines are not in the output, together and in this order (" + hint + "):\n" + "\n".join(segment)
        position = found + len(wanted)
    return None


def escaped_messages(output: str) -> list[str]:
    """Output lines that print a message as one escaped string with embedded newlines (unreadable)."""
    return [line for line in output.splitlines() if re.search(r'"msg": ".*\\n', line)]


RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)"
)


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP of an ansible-playbook run: host -> changed, unreachable, failed."""
    hosts: dict[str, dict[str, int]] = {}
    for line in output.splitlines():
        match = RECAP.match(ANSI.sub("", line))
        if match:
            hosts[match["host"]] = {key: int(match[key]) for key in ("changed", "unreachable", "failed")}
    return hosts


def task_result(output: str, task: str) -> dict:
    """The result that the default callback printed as JSON for a task (its first host), e.g. a debug's msg."""
    lines = [ANSI.sub("", line) for line in output.splitlines()]
    starts = [index for index, line in enumerate(lines) if line.startswith(f"TASK [{task}]")]
    if not starts:
        raise ValueError(f"no task {task!r} in the output")
    for index in range(starts[-1] + 1, len(lines)):
        if re.match(r"^ok: \[[^\]]+\] => \{$", lines[index]):
            end = lines.index("}", index)
            return json.loads("{" + "\n".join(lines[index + 1:end]) + "}")
        if lines[index].startswith(("TASK [", "PLAY RECAP")):
            break
    raise ValueError(f"task {task!r} printed no result as JSON")
