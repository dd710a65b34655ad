from __future__ import annotations

from datetime import datetime

import pytest

from ecoeco.core.clock import KST
from ecoeco.locations.hours import Interval, OpeningHours, parse_closures, parse_day, parse_weekly


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=KST)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00 ~ 21:00", (Interval(540, 1260),)),
        ("08시~22시", (Interval(480, 1320),)),
        ("9:00~11:00", (Interval(540, 660),)),
        ("상시", (Interval(0, 1440),)),
        ("00:00~24:00", (Interval(0, 1440),)),
        ("휴무", ()),
        ("전체휴무", ()),
        ("계약종료", ()),
        ("09:00 ~ 12:00,\n14:00 ~ 17:00", (Interval(540, 720), Interval(840, 1020))),
        ("10:00~12:00\n(2, 4주)", (Interval(600, 720, weeks=(2, 4)),)),
        ("22:00~02:00", (Interval(1320, 1560),)),
        ("", None),
        ("전화 문의", None),
    ],
)
def test_day_texts_of_the_public_data(text: str, expected: object) -> None:
    assert parse_day(text) == expected


def test_summer_hours_apply_only_in_their_months() -> None:
    rule = parse_day("10시~22시         (하절기(7~9월) 10시~23시)")
    assert rule is not None
    hours = OpeningHours(week=(rule,) * 7)
    assert hours.status(at("2025-08-13T22:30")).open_now is True
    assert hours.status(at("2025-11-12T22:30")).open_now is False
    assert hours.status(at("2025-11-12T21:59")).hours == ["10:00-22:00"]


def test_alternate_weeks() -> None:
    rule = parse_day("10:00~12:00\n14:00~16:00\n(1,3,5주)")
    hours = OpeningHours(week=(rule,) * 7)
    # 2025-11-04 is the 1st Tuesday of its month, 2025-11-11 the 2nd.
    assert hours.status(at("2025-11-04T10:30")).open_now is True
    second = hours.status(at("2025-11-11T10:30"))
    assert second.open_now is False
    assert second.hours == []


def test_monthly_closure_and_public_holidays() -> None:
    hours = parse_weekly("월~금 09:00~18:00, 토 10:00~14:00, 일·공휴일 휴무, 매월 둘째 주 월요일 휴무")
    assert hours.closed_monthly == ((2, 0),)
    assert hours.status(at("2025-11-03T10:00")).open_now is True  # 1st Monday
    closed = hours.status(at("2025-11-10T10:00"))  # 2nd Monday
    assert (closed.open_now, closed.note) == (False, "monthly closure")
    assert hours.status(at("2025-11-15T13:59")).open_now is True  # Saturday
    assert hours.status(at("2025-11-16T12:00")).open_now is False  # Sunday
    holiday = hours.status(at("2025-10-09T10:00"))  # 한글날, a Thursday
    assert (holiday.open_now, holiday.note) == (False, "public holiday")


def test_temporary_holiday_has_its_own_rule() -> None:
    always = (Interval(0, 1440),)
    hours = OpeningHours(week=(always,) * 7, holiday=always, temporary_holiday=())
    assert hours.status(at("2025-01-27T12:00")).open_now is False  # 임시공휴일
    assert hours.status(at("2025-01-29T12:00")).open_now is True  # 설날: the holiday rule


def test_overnight_span_is_open_after_midnight() -> None:
    hours = OpeningHours(week=(parse_day("22:00~02:00"),) * 7)
    assert hours.status(at("2025-11-12T01:30")).open_now is True
    assert hours.status(at("2025-11-12T02:30")).open_now is False


def test_unknown_hours_never_guess() -> None:
    status = OpeningHours().status(at("2025-11-12T12:00"))
    assert (status.hours, status.open_now) == (None, None)


def test_status_is_in_korea_time() -> None:
    hours = OpeningHours(week=(parse_day("09:00~18:00"),) * 7)
    # 01:00 UTC is 10:00 in Seoul.
    assert hours.status(datetime.fromisoformat("2025-11-12T01:00+00:00")).open_now is True
    assert hours.status(datetime.fromisoformat("2025-11-12T10:00+00:00")).open_now is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("매월 둘째 주 월요일 휴무", ((2, 0),)),
        ("매월 2,4째주 일요일 휴무", ((2, 6), (4, 6))),
        ("매월 마지막 주 금요일 정기휴무", ((-1, 4),)),
        ("근로자의 날 등 공휴일(임시공휴일 포함)은 휴무", ()),
    ],
)
def test_monthly_closures(text: str, expected: tuple[tuple[int, int], ...]) -> None:
    assert parse_closures(text) == expected


def test_weekly_free_text() -> None:
    hours = parse_weekly("평일 9시~18시 / 주말 휴무")
    assert hours.week[:5] == ((Interval(540, 1080),),) * 5
    assert hours.week[5:] == ((), ())
    assert parse_weekly("09:00~18:00").week == ((Interval(540, 1080),),) * 7
    unreadable = parse_weekly("화목금 11~5 수 12~8")
    assert not unreadable.known
    assert unreadable.notes == ("화목금 11~5 수 12~8",)


def test_json_round_trip() -> None:
    hours = parse_weekly("월~금 09:00~18:00, 토 10:00~14:00, 일·공휴일 휴무, 매월 마지막 주 금요일 휴무")
    assert OpeningHours.from_json(hours.as_json()) == hours
