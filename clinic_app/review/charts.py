"""Server-rendered SVG charts: plain data in, geometry out (no Flask, no database).

Each builder returns a `Chart`: every coordinate already worked out in the SVG's own units, so
the Jinja macro in templates/review/_chart.html only draws. Charts carry a title and a
description for screen readers (role="img"); the pages show the same numbers in a table beside
each chart. Series differ by marker shape and line style as well as colour.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.scores import GAD7, PHQ9, Instrument
from clinic_app.dates import format_local

WIDTH = 720
HEIGHT = 280
MARGIN_LEFT = 48
MARGIN_RIGHT = 124  # room for the labels of the reference lines
MARGIN_TOP = 14
MARGIN_BOTTOM = 40
LABEL_GAP = 12  # least vertical distance between two line labels


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # shown as the marker's tooltip


@dataclass(frozen=True)
class Series:
    """One data series: `css` names the colour and line style, `marker` the marker shape."""

    name: str
    css: str
    marker: str  # "circle", "square" or "diamond"
    points: tuple[Point, ...]
    connect: bool = True

    @property
    def path(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)

    @property
    def markers(self) -> Markup:
        """Every point's marker as SVG: built here rather than by a template macro per point,
        which cost most of the timeline's rendering time for a long history."""
        css = escape(self.css)
        svg = "".join(_marker(self.marker, p.x, p.y, escape(p.label), css) for p in self.points)
        # Label and css, the only text in it, are escaped above.
        return Markup(svg)  # nosec B704


def marker_svg(shape: str, x: float, y: float, label: str, css: str) -> Markup:
    """One marker ("square", "diamond", "tick" or a circle) with its label as the tooltip."""
    # Label and css, the only text in it, are escaped here.
    return Markup(_marker(shape, x, y, escape(label), escape(css)))  # nosec B704


def _marker(shape: str, x: float, y: float, label: Markup, css: Markup) -> str:
    """A marker's SVG from an escaped label and CSS class."""
    title = f"<title>{label}</title>"
    if shape == "square":
        return (
            f'<rect class="mk {css}" x="{round(x - 3.5, 1)}" y="{round(y - 3.5, 1)}" '
            f'width="7" height="7">{title}</rect>'
        )
    if shape == "diamond":
        return (
            f'<polygon class="mk {css}" points="{x},{round(y - 5, 1)} {round(x + 5, 1)},{y} '
            f'{x},{round(y + 5, 1)} {round(x - 5, 1)},{y}">{title}</polygon>'
        )
    if shape == "tick":
        return (
            f'<line class="mk-tick {css}" x1="{x}" x2="{x}" y1="{round(y - 2, 1)}" '
            f'y2="{round(y + 24, 1)}">{title}</line>'
        )
    return f'<circle class="mk {css}" cx="{x}" cy="{y}" r="3.5">{title}</circle>'


@dataclass(frozen=True)
class RefLine:
    """A labelled horizontal segment (a threshold) or, with `vertical`, a vertical one."""

    x1: float
    x2: float
    y1: float
    y2: float
    label: str
    css: str
    label_x: float = 0.0
    label_y: float = 0.0
    vertical: bool = False


@dataclass(frozen=True)
class Band:
    x: float
    y: float
    width: float
    height: float
    label: str
    css: str


@dataclass(frozen=True)
class LegendItem:
    name: str
    css: str
    marker: str = ""  # empty: a line swatch only


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    x_label: str
    y_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: float = MARGIN_LEFT
    top: float = MARGIN_TOP
    right: float = WIDTH - MARGIN_RIGHT
    bottom: float = HEIGHT - MARGIN_BOTTOM
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    lines: list[RefLine] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)
    row_labels: list[Tick] = field(default_factory=list)  # y-positioned labels (band charts)
    empty: bool = False

    @property
    def plot_width(self) -> float:
        return self.right - self.left

    @property
    def plot_height(self) -> float:
        return self.bottom - self.top


class Scale:
    """Linear map from a data domain onto pixels (the range may run downwards)."""

    def __init__(self, lo: float, hi: float, start: float, end: float):
        if hi <= lo:
            hi = lo + 1
        self.lo, self.hi, self.start, self.end = lo, hi, start, end

    def __call__(self, value: float) -> float:
        fraction = (value - self.lo) / (self.hi - self.lo)
        return round(self.start + fraction * (self.end - self.start), 1)


# --- ticks -----------------------------------------------------------------------------------


def nice_step(span: float, target: int = 6) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `target` ticks."""
    if span <= 0:
        return 1.0
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def value_ticks(lo: float, hi: float, scale: Scale, target: int = 6) -> list[Tick]:
    step = nice_step(hi - lo, target)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + 1e-9:
        label = f"{value:g}"
        ticks.append(Tick(scale(value), label))
        value += step
    return ticks


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _day_label(moment: datetime, zone: ZoneInfo) -> str:
    """The clinic-local day of `moment` in the clinic's named "date" format."""
    return format_local(_local_day(moment, zone), "date")


def _clock_label(moment: datetime, zone: ZoneInfo) -> str:
    """The clinic-local time of `moment` in the clinic's named "time" format."""
    return format_local(moment.astimezone(zone), "time")


def date_ticks(lo: datetime, hi: datetime, scale: Scale, zone: ZoneInfo) -> list[Tick]:
    """Ticks at local midnights: every 1, 2, 7, 14 or 28 days, or on the first of every n-th
    month for long spans; labelled "3 Mar" or "Mar 2026"."""
    first, last = _local_day(lo, zone), _local_day(hi, zone)
    span = (last - first).days
    ticks: list[Tick] = []

    def at(day: date) -> float:
        moment = datetime(day.year, day.month, day.day, tzinfo=zone)
        return scale(moment.timestamp())

    if span > 120:
        months = max(1, math.ceil(span / 30 / 7))
        year, month = first.year, first.month
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            day = date(year, month, 1)
            if day > last:
                break
            if (year * 12 + month) % months == 0:
                ticks.append(Tick(at(day), format_local(day, "month_year")))
        return ticks
    step = next((s for s in (1, 2, 7, 14, 28) if span / s <= 7), 28)
    day = first
    while day <= last:
        moment = datetime(day.year, day.month, day.day, tzinfo=zone)
        if lo.timestamp() <= moment.timestamp() <= hi.timestamp():
            ticks.append(Tick(at(day), format_local(day, "day_month")))
        day += timedelta(days=step)
    return ticks


def minute_ticks(lo: float, hi: float, scale: Scale) -> list[Tick]:
    step = next((s for s in (5, 10, 15, 30, 60) if (hi - lo) / s <= 9), 120)
    value = math.ceil(lo / step) * step
    ticks = []
    while value <= hi:
        ticks.append(Tick(scale(value), f"{value:+d}" if value else "0"))
        value += step
    return ticks


def spread_labels(ys: Sequence[float], gap: float, top: float, bottom: float) -> list[float]:
    """Label positions near `ys` (same order) at least `gap` apart, kept inside top..bottom."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed: dict[int, float] = {}
    previous = None
    for index in order:
        y = max(ys[index], top + gap / 2)
        if previous is not None and y - previous < gap:
            y = previous + gap
        placed[index] = y
        previous = y
    overflow = (previous or 0) - bottom
    if overflow > 0:
        for index in placed:
            placed[index] -= overflow
    return [round(placed[i], 1) for i in range(len(ys))]


def _finish_lines(chart: Chart) -> None:
    """Place the labels of horizontal reference lines in the right margin, apart."""
    horizontal = [line for line in chart.lines if not line.vertical]
    ys = spread_labels([line.y1 + 4 for line in horizontal], LABEL_GAP, chart.top, chart.bottom + 4)
    placed = {id(line): y for line, y in zip(horizontal, ys, strict=True)}
    chart.lines = [
        line
        if line.vertical
        else RefLine(
            line.x1,
            line.x2,
            line.y1,
            line.y2,
            line.label,
            line.css,
            chart.right + 6,
            placed[id(line)],
        )
        for line in chart.lines
    ]


def _hline(chart: Chart, y: float, label: str, css: str, x1=None, x2=None) -> None:
    if not chart.top <= y <= chart.bottom:
        return
    chart.lines.append(
        RefLine(
            chart.left if x1 is None else x1,
            chart.right if x2 is None else x2,
            y,
            y,
            label,
            css,
        )
    )


def _vline(chart: Chart, x: float, label: str, css: str) -> None:
    chart.lines.append(
        RefLine(x, x, chart.top, chart.bottom, label, css, x + 3, chart.top + 10, vertical=True)
    )


# --- questionnaire scores over time ----------------------------------------------------------


@dataclass(frozen=True)
class CourseSpan:
    """A course as the score chart draws it: its dates and its PHQ-9 baseline."""

    label: str
    start: datetime
    end: datetime
    baseline: int | None


def time_domain(moments: Sequence[datetime]) -> tuple[datetime, datetime]:
    lo, hi = min(moments), max(moments)
    pad = max((hi - lo) * 0.03, timedelta(days=1))
    return lo - pad, hi + pad


def score_chart(
    chart_id: str,
    instrument: Instrument,
    points: Sequence[tuple[datetime, int]],
    courses: Sequence[CourseSpan],
    rules: ReviewRules,
    zone: ZoneInfo,
    domain: tuple[datetime, datetime] | None = None,
) -> Chart:
    """PHQ-9 (with each course's baseline, response line and the remission line) or GAD-7 (with
    the line where further evaluation is advised) over time."""
    points = sorted(points)
    phq = instrument.code == PHQ9.code
    chart = Chart(
        chart_id,
        f"{instrument.label} total over time",
        "",
        "Date",
        f"{instrument.label} total (0–{instrument.max_total})",
    )
    if not points:
        chart.empty = True
        chart.desc = f"No {instrument.label} scores recorded yet."
        return chart
    lo, hi = domain or time_domain([p[0] for p in points])
    x = Scale(lo.timestamp(), hi.timestamp(), chart.left, chart.right)
    y = Scale(0, instrument.max_total, chart.bottom, chart.top)
    chart.x_ticks = date_ticks(lo, hi, x, zone)
    chart.y_ticks = value_ticks(0, instrument.max_total, y, 6)
    css = "s-phq9" if phq else "s-gad7"
    chart.series.append(
        Series(
            instrument.label,
            css,
            "circle" if phq else "diamond",
            tuple(
                Point(
                    x(at.timestamp()),
                    y(total),
                    f"{_day_label(at, zone)}: {instrument.label} {total}",
                )
                for at, total in points
            ),
        )
    )
    chart.legend.append(LegendItem(instrument.label, css, "circle" if phq else "diamond"))
    described = [
        f"{len(points)} {instrument.label} scores from {_day_label(points[0][0], zone)}"
        f" ({points[0][1]}) to {_day_label(points[-1][0], zone)} ({points[-1][1]})."
    ]
    if phq:
        described += _phq9_lines(chart, courses, x, y, (lo, hi), rules)
    else:
        moderate = next(lowest for lowest, name in GAD7.bands if name == "moderate")
        _hline(chart, y(moderate), f"moderate ≥ {moderate}", "l-notify")
        chart.legend.append(LegendItem(f"Moderate anxiety (≥ {moderate})", "l-notify"))
        described.append(f"A score of {moderate} or more needs further evaluation.")
    chart.desc = " ".join(described)
    _finish_lines(chart)
    return chart


def _phq9_lines(
    chart: Chart,
    courses: Sequence[CourseSpan],
    x: Scale,
    y: Scale,
    domain: tuple[datetime, datetime],
    rules: ReviewRules,
) -> list[str]:
    """Each course's baseline and response line over its dates, and the remission line; the
    sentences that describe them."""
    lo, hi = domain
    keep = 100 - rules.response_drop_percent
    described = []
    with_baseline = False
    for course in courses:
        if course.baseline is None:
            continue
        with_baseline = True
        x1 = x(max(course.start, lo).timestamp())
        x2 = x(min(course.end, hi).timestamp())
        if x2 <= x1:
            continue
        response = course.baseline * keep / 100
        _hline(chart, y(course.baseline), f"baseline {course.baseline}", "l-baseline", x1, x2)
        _hline(chart, y(response), f"response ≤ {response:g}", "l-response", x1, x2)
        described.append(
            f"{course.label}: baseline {course.baseline}; response at or below "
            f"{response:g} ({rules.response_drop_percent} % drop)."
        )
    _hline(chart, y(rules.remission_below), f"remission < {rules.remission_below}", "l-remit")
    described.append(f"Remission means a score below {rules.remission_below}.")
    if with_baseline:
        chart.legend.append(LegendItem("Course baseline", "l-baseline"))
        chart.legend.append(
            LegendItem(f"Response line ({rules.response_drop_percent} % of baseline)", "l-response")
        )
    chart.legend.append(LegendItem(f"Remission line (< {rules.remission_below})", "l-remit"))
    return described


# --- courses and phases as bands over time ---------------------------------------------------


@dataclass(frozen=True)
class PhaseSpan:
    phase: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class CourseRow:
    label: str
    phases: tuple[PhaseSpan, ...]
    session_times: tuple[datetime, ...]


PHASE_CSS = {
    "induction": "b-induction",
    "maintenance": "b-maintenance",
    "completed": "b-completed",
    "stopped": "b-stopped",
}


def course_bands_chart(
    chart_id: str,
    rows: Sequence[CourseRow],
    zone: ZoneInfo,
    domain: tuple[datetime, datetime] | None = None,
) -> Chart:
    """One band per course, coloured by phase, with a tick for every session."""
    row_height = 48  # a label line above a 24-unit band
    height = MARGIN_TOP + MARGIN_BOTTOM + row_height * max(len(rows), 1)
    chart = Chart(
        chart_id,
        "Treatment courses and phases over time",
        "",
        "Date",
        "",
        height=height,
        bottom=height - MARGIN_BOTTOM,
    )
    moments = [p.start for r in rows for p in r.phases] + [p.end for r in rows for p in r.phases]
    if not moments:
        chart.empty = True
        chart.desc = "No treatment course yet."
        return chart
    lo, hi = domain or time_domain(moments)
    x = Scale(lo.timestamp(), hi.timestamp(), chart.left, chart.right)
    chart.x_ticks = date_ticks(lo, hi, x, zone)
    described = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        row_top = chart.top + index * row_height
        chart.row_labels.append(Tick(row_top + 13, row.label))
        described.append(_course_band(chart, row, row_top + 18, x, (lo, hi), zone, seen))
    chart.legend.append(LegendItem("Session", "s-session", "tick"))
    chart.desc = " ".join(described)
    return chart


def _course_band(
    chart: Chart,
    row: CourseRow,
    top: float,
    x: Scale,
    domain: tuple[datetime, datetime],
    zone: ZoneInfo,
    seen: set[str],
) -> str:
    """One course's phase bands and session ticks at `top`; the sentence that describes them.
    A phase gets its legend entry the first time it is `seen`."""
    lo, hi = domain
    parts = []
    for span in row.phases:
        x1, x2 = x(max(span.start, lo).timestamp()), x(min(span.end, hi).timestamp())
        css = PHASE_CSS.get(span.phase, "b-completed")
        chart.bands.append(
            Band(
                x1,
                top,
                max(x2 - x1, 2),
                24,
                f"{row.label}: {span.phase} {_day_label(span.start, zone)}"
                f" to {_day_label(span.end, zone)}",
                css,
            )
        )
        if span.phase not in seen:
            seen.add(span.phase)
            chart.legend.append(LegendItem(span.phase.capitalize(), css, "band"))
        parts.append(
            f"{span.phase} from {_day_label(span.start, zone)} to {_day_label(span.end, zone)}"
        )
    ticks = tuple(
        Point(x(t.timestamp()), top, f"Session {_day_label(t, zone)}")
        for t in row.session_times
        if lo <= t <= hi
    )
    chart.series.append(Series("Sessions", "s-session", "tick", ticks, connect=False))
    return f"{row.label}: {', '.join(parts)}; {len(row.session_times)} sessions."


# --- blood pressure --------------------------------------------------------------------------


def _bp_domain(values: Sequence[int], lines: Sequence[int]) -> tuple[int, int]:
    lo = min([*values, *lines]) - 10
    hi = max([*values, *lines]) + 10
    return max(0, (lo // 10) * 10), ((hi + 9) // 10) * 10


def session_bp_chart(
    chart_id: str,
    readings: Sequence[tuple[datetime, int, int]],
    dose_started_at: datetime | None,
    infusion_ended_at: datetime | None,
    baseline: tuple[int, int] | None,
    hold: tuple[int, int],
    rules: ClinicalRules,
    zone: ZoneInfo,
) -> Chart:
    """Systolic and diastolic over the minutes of one session (0 = dose start), with the hold,
    rise, notify and urgent lines."""
    chart = Chart(
        chart_id,
        "Blood pressure during the session",
        "",
        "Minutes from dose start" if dose_started_at else "Minutes from first reading",
        "mmHg",
    )
    readings = sorted(readings)
    if not readings:
        chart.empty = True
        chart.desc = "No blood pressure readings yet."
        return chart
    origin = dose_started_at or readings[0][0]

    def minutes(at: datetime) -> float:
        return (at - origin).total_seconds() / 60

    xs = [minutes(at) for at, _, _ in readings]
    lo = min(-10.0, min(xs) - 5)
    hi = max(30.0, max(xs) + 5)
    x = Scale(lo, hi, chart.left, chart.right)
    rise_line = baseline[0] + rules.rise_systolic if baseline else None
    threshold_values = [hold[0], hold[1], rules.notify_systolic, rules.notify_diastolic]
    all_values = [v for _, s, d in readings for v in (s, d)]
    if max(all_values) >= rules.notify_systolic - 20:
        threshold_values += [rules.urgent_systolic]
    y_lo, y_hi = _bp_domain(all_values, threshold_values)
    y = Scale(y_lo, y_hi, chart.bottom, chart.top)
    chart.x_ticks = minute_ticks(lo, hi, x)
    chart.y_ticks = value_ticks(y_lo, y_hi, y, 6)
    _bp_series(chart, readings, x, y, minutes, zone)
    _bp_lines(chart, y, hold, rise_line, rules)
    if dose_started_at is not None:
        _vline(chart, x(0), "dose", "l-event")
    if dose_started_at is not None and infusion_ended_at is not None:
        _vline(chart, x(minutes(infusion_ended_at)), "infusion end", "l-event")
    chart.desc = _bp_desc(readings, origin, baseline, hold, rules, zone)
    _finish_lines(chart)
    return chart


def _bp_desc(
    readings: Sequence[tuple[datetime, int, int]],
    origin: datetime,
    baseline: tuple[int, int] | None,
    hold: tuple[int, int],
    rules: ClinicalRules,
    zone: ZoneInfo,
) -> str:
    """A session's BP chart in words: its span, its highest reading and the lines."""
    peak = max(readings, key=lambda r: (r[1], r[2]))
    desc = [
        f"{len(readings)} readings from {_clock_label(readings[0][0], zone)}"
        f" to {_clock_label(readings[-1][0], zone)}.",
        f"Highest {peak[1]}/{peak[2]} at {(peak[0] - origin).total_seconds() / 60:+.0f} min.",
    ]
    if baseline:
        desc.append(f"Pre-dose {baseline[0]}/{baseline[1]}.")
    desc.append(
        f"Hold line {hold[0]}/{hold[1]}; notify {rules.notify_systolic}/"
        f"{rules.notify_diastolic}; urgent {rules.urgent_systolic}/{rules.urgent_diastolic}."
    )
    return " ".join(desc)


def _bp_series(
    chart: Chart,
    readings: Sequence[tuple[datetime, int, int]],
    x: Scale,
    y: Scale,
    minutes: Callable[[datetime], float],
    zone: ZoneInfo,
) -> None:
    """Systolic and diastolic series of a session's BP chart, and their legend."""
    for name, css, marker, column in (
        ("Systolic", "s-systolic", "circle", 1),
        ("Diastolic", "s-diastolic", "square", 2),
    ):
        chart.series.append(
            Series(
                name,
                css,
                marker,
                tuple(
                    Point(
                        x(minutes(r[0])),
                        y(r[1] if column == 1 else r[2]),
                        f"{_clock_label(r[0], zone)} ({minutes(r[0]):+.0f} min): {r[1]}/{r[2]}",
                    )
                    for r in readings
                ),
            )
        )
        chart.legend.append(LegendItem(name, css, marker))


def _bp_lines(
    chart: Chart, y: Scale, hold: tuple[int, int], rise_line: int | None, rules: ClinicalRules
) -> None:
    """The hold, rise, notify and urgent lines of a session's BP chart, and their legend."""
    _hline(chart, y(hold[0]), f"hold S > {hold[0]}", "l-hold")
    _hline(chart, y(hold[1]), f"hold D > {hold[1]}", "l-hold")
    if rise_line is not None:
        _hline(chart, y(rise_line), f"rise S +{rules.rise_systolic} ({rise_line})", "l-rise")
    _hline(chart, y(rules.notify_systolic), f"notify S ≥ {rules.notify_systolic}", "l-notify")
    _hline(chart, y(rules.notify_diastolic), f"notify D ≥ {rules.notify_diastolic}", "l-notify")
    _hline(chart, y(rules.urgent_systolic), f"urgent S ≥ {rules.urgent_systolic}", "l-urgent")
    _hline(chart, y(rules.urgent_diastolic), f"urgent D ≥ {rules.urgent_diastolic}", "l-urgent")
    chart.legend += [
        LegendItem("Pre-dose hold line", "l-hold"),
        LegendItem("Rise and notify lines", "l-notify"),
        LegendItem("Urgent lines", "l-urgent"),
    ]


@dataclass(frozen=True)
class SessionPeak:
    at: datetime
    peak_systolic: int
    pre_systolic: int | None
    zone: ZoneInfo | None = None  # its site's clock (None: the chart's)


def peak_systolic_chart(
    chart_id: str,
    course_label: str,
    peaks: Sequence[SessionPeak],
    hold_systolic: int,
    rules: ClinicalRules,
    zone: ZoneInfo,
) -> Chart:
    """The highest systolic after the dose of every session of a course, with the pre-dose
    systolic, the hold line and the notify and urgent lines."""
    chart = Chart(
        chart_id,
        f"Peak systolic per session, {course_label}",
        "",
        "Session date",
        "Systolic mmHg",
    )
    peaks = sorted(peaks, key=lambda p: p.at)
    if not peaks:
        chart.empty = True
        chart.desc = "No dosed sessions with readings yet."
        return chart
    lo, hi = time_domain([p.at for p in peaks])
    x = Scale(lo.timestamp(), hi.timestamp(), chart.left, chart.right)
    values = [p.peak_systolic for p in peaks] + [p.pre_systolic for p in peaks if p.pre_systolic]
    lines = [hold_systolic, rules.notify_systolic]
    if max(values) >= rules.notify_systolic - 10:
        lines.append(rules.urgent_systolic)
    y_lo, y_hi = _bp_domain(values, lines)
    y = Scale(y_lo, y_hi, chart.bottom, chart.top)
    chart.x_ticks = date_ticks(lo, hi, x, zone)
    chart.y_ticks = value_ticks(y_lo, y_hi, y, 6)
    chart.series += _peak_series(peaks, x, y, zone)
    chart.legend += [
        LegendItem("Peak systolic after dose", "s-systolic", "circle"),
        LegendItem("Pre-dose systolic", "s-predose", "square"),
        LegendItem("Hold line", "l-hold"),
        LegendItem("Notify line", "l-notify"),
        LegendItem("Urgent line", "l-urgent"),
    ]
    _hline(chart, y(hold_systolic), f"hold > {hold_systolic}", "l-hold")
    _hline(chart, y(rules.notify_systolic), f"notify ≥ {rules.notify_systolic}", "l-notify")
    _hline(chart, y(rules.urgent_systolic), f"urgent ≥ {rules.urgent_systolic}", "l-urgent")
    highest = max(peaks, key=lambda p: p.peak_systolic)
    over = sum(1 for p in peaks if p.peak_systolic >= rules.notify_systolic)
    chart.desc = (
        f"{len(peaks)} sessions from {_peak_day(peaks[0], zone)} to "
        f"{_peak_day(peaks[-1], zone)}. Highest peak {highest.peak_systolic} on "
        f"{_peak_day(highest, zone)}; {over} at or above the notify line "
        f"{rules.notify_systolic}. Hold line {hold_systolic}."
    )
    _finish_lines(chart)
    return chart


def _peak_day(peak: SessionPeak, zone: ZoneInfo) -> str:
    """The session's date on its site's clock (the chart's without one)."""
    return _day_label(peak.at, peak.zone or zone)


def _peak_series(peaks: Sequence[SessionPeak], x: Scale, y: Scale, zone: ZoneInfo) -> list[Series]:
    """The peak systolic of every session and the pre-dose systolic of those that have one."""
    return [
        Series(
            "Peak systolic",
            "s-systolic",
            "circle",
            tuple(
                Point(
                    x(p.at.timestamp()),
                    y(p.peak_systolic),
                    f"{_peak_day(p, zone)}: peak {p.peak_systolic}",
                )
                for p in peaks
            ),
        ),
        Series(
            "Pre-dose systolic",
            "s-predose",
            "square",
            tuple(
                Point(
                    x(p.at.timestamp()),
                    y(p.pre_systolic),
                    f"{_peak_day(p, zone)}: pre-dose {p.pre_systolic}",
                )
                for p in peaks
                if p.pre_systolic is not None
            ),
        ),
    ]
