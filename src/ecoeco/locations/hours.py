"""Weekly opening hours parsed from Korean free text, and "is it open now?" in Korea time.

Public data writes hours as prose: ``09:00 ~ 18:00``, ``08시~22시``, ``상시`` (always open), ``휴무``
(closed), ``10:00~12:00\\n14:00~16:00\\n(1,3,5주)`` (1st, 3rd and 5th week of the month),
``10시~22시 (하절기(7~9월) 10시~23시)`` (longer in summer), ``매월 둘째 주 월요일 휴무`` (closed on the
second Monday). Text we cannot read becomes *unknown* (``None``), never a guess of open or closed.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from ecoeco.core.clock import KST

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_KOREAN_DAYS = "월화수목금토일"
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Interval:
    start: int  # minutes after midnight
    end: int  # may pass 1440 for a span that runs past midnight
    weeks: tuple[int, ...] = ()  # nth occurrence of the weekday in its month; empty = every week
    months: tuple[int, ...] = ()  # empty = all year

    def applies(self, day: date) -> bool:
        return (not self.weeks or _nth(day) in self.weeks) and (not self.months or day.month in self.months)

    @property
    def label(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"open": _hhmm(self.start), "close": _hhmm(self.end)}
        if self.weeks:
            out["weeks"] = list(self.weeks)
        if self.months:
            out["months"] = list(self.months)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Interval:
        return cls(
            _minutes(data["open"]),
            _minutes(data["close"]),
            tuple(data.get("weeks", ())),
            tuple(data.get("months", ())),
        )


# A day's rule: None = unknown, () = closed, otherwise the intervals it is open.
Day = tuple[Interval, ...] | None


@dataclass(frozen=True)
class DayStatus:
    date: date
    hours: list[str] | None  # today's open intervals; None when unknown
    open_now: bool | None
    note: str | None = None  # why today differs from the weekly rule


@dataclass(frozen=True)
class OpeningHours:
    week: tuple[Day, ...] = (None,) * 7  # Monday first
    holiday: Day = None  # public holidays; None = as on that weekday
    temporary_holiday: Day = None  # 임시공휴일; None = as on public holidays
    closed_monthly: tuple[tuple[int, int], ...] = ()  # (nth week or -1 for last, weekday)
    notes: tuple[str, ...] = field(default=())  # source texts we could not read

    @property
    def known(self) -> bool:
        return any(d is not None for d in self.week)

    def rule_for(self, day: date) -> tuple[Day, str | None]:
        for nth, weekday in self.closed_monthly:
            if day.weekday() == weekday and (_nth(day) == nth or (nth == -1 and _is_last(day))):
                return (), "monthly closure"
        name = _kr_holidays(day.year).get(day)
        if name is not None:
            if "Temporary" in name and self.temporary_holiday is not None:
                return self.temporary_holiday, "temporary public holiday"
            if self.holiday is not None:
                return self.holiday, "public holiday"
        return self.week[day.weekday()], None

    def open_intervals(self, day: date) -> tuple[tuple[Interval, ...] | None, str | None]:
        rule, note = self.rule_for(day)
        if rule is None:
            return None, note
        return tuple(i for i in rule if i.applies(day)), note

    def status(self, now: datetime) -> DayStatus:
        local = now.astimezone(KST)
        today = local.date()
        minute = local.hour * 60 + local.minute
        intervals, note = self.open_intervals(today)
        yesterday, _ = self.open_intervals(today - timedelta(days=1))
        spill = any(i.end > DAY_MINUTES and minute < i.end - DAY_MINUTES for i in yesterday or ())
        if intervals is None:
            return DayStatus(today, None, True if spill else None, note)
        is_open = spill or any(i.start <= minute < i.end for i in intervals)
        return DayStatus(today, [i.label for i in intervals], is_open, note)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "week": {name: _day_json(d) for name, d in zip(WEEKDAYS, self.week, strict=True)},
            "holiday": _day_json(self.holiday),
            "temporary_holiday": _day_json(self.temporary_holiday),
            "closed_monthly": [{"week": n, "weekday": WEEKDAYS[w]} for n, w in self.closed_monthly],
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpeningHours:
        return cls(
            week=tuple(_day_from_json(data["week"].get(name)) for name in WEEKDAYS),
            holiday=_day_from_json(data.get("holiday")),
            temporary_holiday=_day_from_json(data.get("temporary_holiday")),
            closed_monthly=tuple((c["week"], WEEKDAYS.index(c["weekday"])) for c in data["closed_monthly"]),
            notes=tuple(data.get("notes", ())),
        )


@lru_cache(maxsize=8192)
def hours_from_text(stored: str) -> OpeningHours:
    """Decode the stored JSON; many locations share a schedule, so the hot path decodes each once."""
    return OpeningHours.from_json(json.loads(stored))


# --- parsing ----------------------------------------------------------------------------------

_TIME = r"(\d{1,2})\s*(?::\s*(\d{2})|시(?:\s*(\d{1,2})\s*분)?)"
_RANGE = re.compile(_TIME + r"\s*[~\-–〜]\s*" + _TIME)
_WEEKS = re.compile(r"\(\s*((?:\d\s*[,·]?\s*)+)주\s*\)")
_SEASON = re.compile(
    r"\(?\s*(?:하절기|동절기|여름철?|겨울철?)?\s*\(?\s*(\d{1,2})\s*~\s*(\d{1,2})\s*월\s*\)?\s*"
    r"(" + _TIME + r"\s*[~\-–〜]\s*" + _TIME + r")\s*\)?"
)
_CLOSED = re.compile(r"휴무|휴관|휴점|휴일|계약종료|운영종료|운영중지|폐쇄")
_ALWAYS = frozenset({"상시", "상시운영", "24시간", "연중무휴24시간", "24시간운영"})
_ORDINALS = {"첫": 1, "둘": 2, "두": 2, "셋": 3, "세": 3, "넷": 4, "네": 4, "다섯": 5, "마지막": -1}
_ORD = r"(?:(?:첫|둘|셋|넷|다섯|두|세|네)\s*(?:째|번째)|마지막|\d\s*(?:째|번째)?)"
_MONTHLY = re.compile(
    r"매월\s*(" + _ORD + r"(?:\s*[,·및와]\s*" + _ORD + r")*)\s*(?:주|번째\s*주)?\s*"
    r"([월화수목금토일](?:\s*[,·]\s*[월화수목금토일])*)\s*(?:요일)?\s*(?:정기\s*)?휴무"
)
_DAY_ITEM = r"(?:공휴일|[월화수목금토일](?:요일)?)"
_DAYSPEC = r"(?<![가-힣])(평일|주말|매일|연중무휴|" + _DAY_ITEM + r"(?:\s*[~\-·,]?\s*" + _DAY_ITEM + r")*)"
_WEEKLY = re.compile(
    _DAYSPEC
    + r"\s*:?\s*((?:"
    + _RANGE.pattern
    + r")(?:\s*[,/]\s*(?:"
    + _RANGE.pattern
    + r"))*|(?:정기\s*)?휴무|휴일|쉼)"
)


def parse_day(text: str | None) -> Day:
    """One day's text (a per-weekday column of the public data)."""
    if text is None:
        return None
    compact = re.sub(r"\s+", "", text)
    if not compact:
        return None
    if compact in _ALWAYS:
        return (Interval(0, DAY_MINUTES),)
    weeks = _weeks(text)
    seasonal: list[Interval] = []
    rest = text
    for m in _SEASON.finditer(text):
        months = _month_span(int(m.group(1)), int(m.group(2)))
        seasonal += [Interval(s, e, weeks, months) for s, e in _ranges(m.group(3))]
        rest = rest.replace(m.group(0), " ")
    summer = {mo for i in seasonal for mo in i.months}
    other_months = tuple(mo for mo in range(1, 13) if mo not in summer) if summer else ()
    base = [Interval(s, e, weeks, other_months) for s, e in _ranges(rest)]
    if base or seasonal:
        return tuple(base + seasonal)
    if _CLOSED.search(compact):
        return ()
    return None


def parse_closures(text: str) -> tuple[tuple[int, int], ...]:
    """``매월 둘째 주 월요일 휴무`` → ((2, 0),); ``매월 2,4째주 일요일 휴무`` → ((2, 6), (4, 6))."""
    found: list[tuple[int, int]] = []
    for m in _MONTHLY.finditer(text):
        nths = [_ordinal(o) for o in re.findall(_ORD, m.group(1))]
        days = [_KOREAN_DAYS.index(d) for d in re.findall(r"[월화수목금토일]", m.group(2))]
        found += [(n, d) for n in nths for d in days]
    return tuple(sorted(set(found)))


def parse_weekly(text: str) -> OpeningHours:
    """Free text naming the days, e.g.
    ``월~금 09:00~18:00, 토 10:00~14:00, 일·공휴일 휴무, 매월 둘째 주 월요일 휴무``.

    A bare range with no day names ("09:00~18:00") means every day.
    """
    closures = parse_closures(text)
    rest = _MONTHLY.sub(" ", text)
    week: list[Day] = [None] * 7
    holiday: Day = None
    matched = False
    for m in _WEEKLY.finditer(rest):
        matched = True
        spec, what = m.group(1), m.group(2)
        rule: Day = () if re.fullmatch(r"(?:정기\s*)?휴무|휴일|쉼", what) else parse_day(what)
        if "공휴일" in spec:
            holiday = rule
            spec = spec.replace("공휴일", "")
        for day in _expand_days(spec):
            week[day] = _merge(week[day], rule)
    if not matched:
        whole = parse_day(rest)
        if whole is not None and whole != ():
            week = [whole] * 7
            matched = True
    notes = () if matched or closures else (text.strip(),)
    return OpeningHours(tuple(week), holiday=holiday, closed_monthly=closures, notes=notes)


def _expand_days(spec: str) -> list[int]:
    if spec in ("매일", "연중무휴"):
        return list(range(7))
    if spec == "평일":
        return list(range(5))
    if spec == "주말":
        return [5, 6]
    names = re.sub(r"요일|\s", "", spec)
    days: list[int] = []
    for m in re.finditer(r"([월화수목금토일])(?:[~\-]([월화수목금토일]))?", names):
        first = _KOREAN_DAYS.index(m.group(1))
        last = _KOREAN_DAYS.index(m.group(2)) if m.group(2) else first
        days += [d % 7 for d in range(first, last + 1 if last >= first else last + 8)]
    return days


def _merge(current: Day, rule: Day) -> Day:
    if current is None or rule is None or rule == ():
        return rule if rule is not None else current
    return current + rule


def _ranges(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _RANGE.finditer(text):
        start = _to_minutes(m.group(1), m.group(2) or m.group(3))
        end = _to_minutes(m.group(4), m.group(5) or m.group(6))
        if start is None or end is None or start >= DAY_MINUTES:
            continue
        out.append((start, end if end > start else end + DAY_MINUTES))
    return out


def _to_minutes(hour: str, minute: str | None) -> int | None:
    h, mi = int(hour), int(minute or 0)
    if h > 24 or mi > 59 or (h == 24 and mi):
        return None
    return h * 60 + mi


def _weeks(text: str) -> tuple[int, ...]:
    m = _WEEKS.search(text)
    if not m:
        return ()
    return tuple(sorted({int(d) for d in re.findall(r"\d", m.group(1)) if 1 <= int(d) <= 5}))


def _month_span(first: int, last: int) -> tuple[int, ...]:
    if not (1 <= first <= 12 and 1 <= last <= 12):
        return ()
    return tuple(((first - 1 + i) % 12) + 1 for i in range((last - first) % 12 + 1))


def _ordinal(token: str) -> int:
    token = re.sub(r"\s|째|번째", "", token)
    return int(token) if token.isdigit() else _ORDINALS[token]


def _nth(day: date) -> int:
    return (day.day - 1) // 7 + 1


def _is_last(day: date) -> bool:
    return day.day + 7 > calendar.monthrange(day.year, day.month)[1]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _day_json(day: Day) -> list[dict[str, Any]] | None:
    return None if day is None else [i.as_json() for i in day]


def _day_from_json(data: list[dict[str, Any]] | None) -> Day:
    return None if data is None else tuple(Interval.from_json(i) for i in data)


@lru_cache(maxsize=16)
def _kr_holidays(year: int) -> dict[date, str]:
    # Imported on the first holiday question: the package costs a start about 0.15 s of imports.
    import holidays

    # English names: the only stable way to tell a temporary holiday (임시공휴일) from the others.
    return dict(holidays.country_holidays("KR", years=year, language="en_US").items())
