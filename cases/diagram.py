"""The lifecycle as documentation: a Mermaid ``stateDiagram-v2`` and a table, generated from the code.

Edges come from the django-fsm-2 decorators on :class:`cases.models.Case` (sources and targets); who
may fire each transition and what it needs come from :data:`cases.lifecycle.TRANSITIONS`.
``python manage.py lifecycle_diagram`` prints both; ``docs/ARCHITECTURE.md`` embeds them and a test
keeps the two in step.
"""

from __future__ import annotations

from collections import defaultdict

from cases.domain import CaseState, Role
from cases.lifecycle import TRANSITIONS


def lifecycle_edges() -> list[tuple[str, str, str]]:
    """Every (source, target, transition) the state machine allows, sorted."""
    from cases.models import Case

    field = Case._meta.get_field("state")
    edges: set[tuple[str, str, str]] = set()
    for transition in field.get_all_transitions(Case):  # type: ignore[attr-defined]
        target = transition.target
        targets = list(getattr(target, "allowed_states", None) or [target])
        for state in targets:
            edges.add((str(transition.source), str(state), transition.name))
    return sorted(edges)


def mermaid() -> str:
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for source, target, name in lifecycle_edges():
        grouped[(source, target)].append(name)
    order = {s: i for i, s in enumerate(CaseState.values)}
    lines = ["stateDiagram-v2", "    [*] --> RAISED : case_raise"]
    for (source, target), names in sorted(grouped.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]])):
        lines.append(f"    {source} --> {target} : {', '.join(sorted(names))}")
    lines.append("    CLOSED --> [*]")
    return "\n".join(lines)


def _role_labels(roles: frozenset[str]) -> str:
    short = {
        Role.DCC_OPERATOR: "DCC operator", Role.DCC_MANAGER: "DCC manager", Role.DCC_INTEGRATION: "DCC system",
        Role.USER_AGENT: "User agent", Role.USER_VIEWER: "User viewer", Role.USER_INTEGRATION: "User system",
        Role.SYSTEM: "MEHR (engine/beat)",
    }
    return ", ".join(short[r] for r in Role.values if r in roles)


def transitions_table() -> str:
    sources: dict[str, set[str]] = defaultdict(set)
    targets: dict[str, set[str]] = defaultdict(set)
    for source, target, name in lifecycle_edges():
        sources[name].add(source)
        targets[name].add(target)
    order = {s: i for i, s in enumerate(CaseState.values)}
    rows = ["| transition | from | to | who may fire it | needs |", "|---|---|---|---|---|"]
    for name, spec in TRANSITIONS.items():
        needs = [f"`{f}`" for f in spec.required_fields]
        if spec.note_required:
            needs.append("a note")
        if spec.correction_required_for:
            needs.append("a correction note (Users)")
        frm = ", ".join(sorted(sources[name], key=order.__getitem__))
        to = "the state it came from" if name == "de_escalate" else ", ".join(sorted(targets[name], key=order.__getitem__))
        rows.append(f"| `{name}` | {frm} | {to} | {_role_labels(spec.roles)} | {'; '.join(needs) or '—'} |")
    return "\n".join(rows)


__all__ = ["lifecycle_edges", "mermaid", "transitions_table"]
