"""The README journey's parsing and output comparison (tests/lab/journey/readme_journey.py), and the README's
own journey: what the journey scenario will run."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "lab" / "journey"))

from readme_journey import escaped_messages, journey_steps, mismatch, normalise, recap, task_result

README = """# A project

<!-- journey: ./dev up -->
```sh
./dev up      # the lab
./dev test    # everything
```

<!-- journey output -->
```text
NODE  IP          LOAD
cdb1  10.42.0.48  97.57 KiB
...
Connect here
```

Not part of it:

```sh
rm -rf /
```

<!-- journey -->
```sh
. .venv/bin/activate

# a comment
ansible-playbook upgrade.yml -e version=3.10 \\
  -e x=1
```
"""


def test_marked_blocks_give_the_commands_in_order_with_their_output() -> None:
    steps = journey_steps(README)
    assert [step.command for step in steps] == [
        "./dev up      # the lab",
        ". .venv/bin/activate",
        "ansible-playbook upgrade.yml -e version=3.10 \\\n  -e x=1",
    ]
    assert [step.line for step in steps] == [5, 25, 28]
    assert steps[0].expected == ["NODE  IP          LOAD", "cdb1  10.42.0.48  97.57 KiB", "...", "Connect here"]
    assert [step.stateful for step in steps] == [False, True, False]
    assert all(not step.expected for step in steps[1:])


def test_a_marker_followed_by_text_marks_nothing() -> None:
    assert journey_steps("<!-- journey -->\nsome words\n\n```sh\nrm -rf /\n```\n") == []


@pytest.mark.parametrize(("readme", "problem"), [
    ("<!-- journey output -->\n```text\nx\n```\n", "an output block before any journey command"),
    ("<!-- journey -->\n```text\nx\n```\n", "must be a shell block"),
    ("<!-- journey: ./dev up -->\n```sh\n./dev test\n```\n", "no command of the block starts with './dev up'"),
    ("<!-- journey -->\n```sh\nls \\\n```\n", "continuation backslash"),
    ("<!-- journey -->\n```sh\nls\n", "never closed"),
])
def test_malformed_journey_blocks_are_named(readme: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        journey_steps(readme)


YAML_OUTPUT = """TASK [corral.cassandra.cassandra_stack : Show the cluster] ****
ok: [lab-host1] =>
    msg:
    - 'Stack CassandraDB: cluster ''CassandraDB'', image r/corral/cassandra:3.9'
    - NODE  IP          LOAD
    - cdb1  10.42.0.48  104.22 KiB

PLAY RECAP ****
lab-host1                  : ok=48   changed=0    unreachable=0    failed=0    skipped=31   rescued=0    ignored=0
\x1b[1;34m==> lab connect\x1b[0m
Connect here
"""


def test_output_matches_across_result_formats_and_changing_figures() -> None:
    expected = ["NODE  IP          LOAD", "cdb1  10.42.0.48  97.57 KiB", "...", "Connect here"]
    assert mismatch(expected, YAML_OUTPUT) is None
    json_output = '    "msg": [\n        "NODE  IP          LOAD",\n        "cdb1  10.42.0.48  1.2 MiB"\n    ]\nConnect here\n'
    assert mismatch(expected, json_output) is None
    assert normalise("    - 'Stack CassandraDB: cluster ''CassandraDB'', x'") == "Stack CassandraDB: cluster 'CassandraDB', x"
    assert normalise("cdb1  66.7%   12 bytes") == "cdb1 <percent> <size>"


@pytest.mark.parametrize("expected", [
    ["NODE  IP          LOAD", "cdb1  10.42.0.49  97.57 KiB"],          # another address
    ["NODE  IP          LOAD", "Connect here"],                          # not together, no `...` between
    ["Connect here", "...", "NODE  IP          LOAD"],                   # out of order
    ["NODE  IP          LOAD", "cdb1  10.42.0.48  97.57 KiB  3.10"],     # a version the output does not show
])
def test_output_that_differs_is_reported(expected: list[str]) -> None:
    problem = mismatch(expected, YAML_OUTPUT)
    assert problem is not None and "not in the output" in problem


def test_recap_task_result_and_escaped_messages() -> None:
    assert recap(YAML_OUTPUT) == {"lab-host1": {"changed": 0, "unreachable": 0, "failed": 0}}
    default = ('TASK [r : Show the cluster] ***\nok: [lab-host1] => {\n    "msg": [\n        "NODE",\n'
               '        "cdb1"\n    ]\n}\n\nPLAY RECAP ***\n')
    assert task_result(default, "r : Show the cluster") == {"msg": ["NODE", "cdb1"]}
    with pytest.raises(ValueError, match="printed no result as JSON"):
        task_result(YAML_OUTPUT, "corral.cassandra.cassandra_stack : Show the cluster")
    assert escaped_messages(default) == []
    assert escaped_messages('    "msg": "NODE  IP\\ncdb1  10.42.0.48"\n') == ['    "msg": "NODE  IP\\ncdb1  10.42.0.48"']


def test_the_readme_journey_covers_the_user_path() -> None:
    steps = journey_steps((ROOT / "README.md").read_text())
    commands = [step.command for step in steps]
    assert commands[0].startswith("./dev up") and not any(command.startswith("./dev test") for command in commands)
    order = ["./dev up", "upgrade.yml -e version=", "upgrade_action=finish", "export.yml", "remove.yml -e stack=CassandraDB",
             "import.yml", "delete_data=true"]
    positions = [next(i for i, command in enumerate(commands) if stage in command) for stage in order]
    assert positions == sorted(positions), commands
    assert steps[0].expected and "..." in steps[0].expected
