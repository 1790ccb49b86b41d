"""docs/ARCHITECTURE.md's lifecycle diagram and table match the state machine in the code."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from cases.diagram import lifecycle_edges, mermaid, transitions_table
from cases.domain import CaseState
from cases.lifecycle import TRANSITIONS

DOC = Path(settings.BASE_DIR) / "docs" / "ARCHITECTURE.md"
EDGE = re.compile(r"^\s*(\[\*\]|[A-Z_]+) --> (\[\*\]|[A-Z_]+)(?: : (.+))?$")


def _documented_block() -> str:
    text = DOC.read_text()
    match = re.search(r"<!-- lifecycle:begin -->\n(.*?)\n<!-- lifecycle:end -->", text, re.S)
    assert match, "docs/ARCHITECTURE.md has no lifecycle block"
    return match.group(1)


def _documented_edges() -> set[tuple[str, str, str]]:
    diagram = re.search(r"```mermaid\n(stateDiagram-v2\n.*?)```", _documented_block(), re.S)
    assert diagram, "the lifecycle block has no Mermaid stateDiagram-v2"
    edges = set()
    for line in diagram.group(1).splitlines()[1:]:
        match = EDGE.match(line)
        assert match, f"not an edge: {line!r}"
        source, target, names = match.groups()
        for name in (names or "").split(", "):
            edges.add((source, target, name))
    return edges


def test_the_diagram_lists_every_transition_of_the_state_machine() -> None:
    documented = _documented_edges()
    in_code = set(lifecycle_edges())
    assert {e for e in documented if "[*]" not in e[:2]} == in_code
    assert {name for _, _, name in in_code} == set(TRANSITIONS)
    # Every state appears, and is reachable from RAISED.
    states = {s for edge in in_code for s in edge[:2]}
    assert states == set(CaseState.values)
    reachable, frontier = {CaseState.RAISED}, [CaseState.RAISED]
    while frontier:
        current = frontier.pop()
        for source, target, _ in in_code:
            if source == current and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(CaseState.values)


def test_the_documented_block_is_exactly_what_the_command_prints() -> None:
    out = StringIO()
    call_command("lifecycle_diagram", stdout=out)
    assert out.getvalue().strip() == _documented_block().strip()
    assert "```mermaid\n" + mermaid() + "\n```" in _documented_block()
    assert transitions_table() in _documented_block()
    # Every transition's roles come from the registry (deny by default: every row names someone).
    for name in TRANSITIONS:
        assert f"| `{name}` |" in _documented_block()
