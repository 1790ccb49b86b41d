"""Server-rendered SVG charts: the view hands over aggregate rows, the templates draw them.

Accessible by construction: each chart is an <svg role="img"> with a title, and the template also
renders the same numbers as a table for screen readers and for copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Bar:
    label: str
    value: int
    href: str = ""
    tone: str = ""  # a CSS class suffix: "", "warn", "bad", "ok", "muted"
    width: float = 0.0  # percentage of the largest bar, filled by bar_chart()


@dataclass
class BarChart:
    title: str
    bars: list[Bar]
    total: int = 0
    empty_text: str = "Nothing to show."
    row_height: int = 22
    height: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        top = max((b.value for b in self.bars), default=0)
        for bar in self.bars:
            bar.width = round(100.0 * bar.value / top, 2) if top else 0.0
        self.total = sum(b.value for b in self.bars)
        self.height = self.row_height * len(self.bars)


@dataclass
class Segment:
    label: str
    value: int
    tone: str
    x: float = 0.0
    width: float = 0.0


@dataclass
class StackedBar:
    """One horizontal bar split into segments (e.g. waiting on DCC / User / SMSO)."""

    title: str
    segments: list[Segment]
    total: int = 0

    def __post_init__(self) -> None:
        self.total = sum(s.value for s in self.segments)
        x = 0.0
        for seg in self.segments:
            seg.x = x
            seg.width = round(100.0 * seg.value / self.total, 2) if self.total else 0.0
            x += seg.width


@dataclass
class SeriesPoint:
    label: str  # the x label (a day)
    values: dict[str, int]


@dataclass
class ColumnChart:
    """Stacked columns over time (e.g. attempt outcomes per day)."""

    title: str
    series: list[tuple[str, str]]  # (key, label) in stacking order; tone is the key
    points: list[SeriesPoint]
    height: int = 120
    columns: list[dict] = field(init=False, default_factory=list)
    top: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.top = max((sum(p.values.values()) for p in self.points), default=0)
        n = max(len(self.points), 1)
        slot = 100.0 / n
        for i, point in enumerate(self.points):
            y = 100.0
            parts = []
            for key, label in self.series:
                v = point.values.get(key, 0)
                h = 100.0 * v / self.top if self.top else 0.0
                y -= h
                parts.append({"key": key, "label": label, "value": v, "y": round(y, 2), "h": round(h, 2)})
            self.columns.append(
                {
                    "x": round(i * slot + slot * 0.15, 2),
                    "w": round(slot * 0.7, 2),
                    "label": point.label,
                    "total": sum(point.values.values()),
                    "parts": parts,
                }
            )
