from __future__ import annotations

from datetime import date

import pytest

from knowledge.language.dates import DateError, format_date, parse_date
from knowledge.models import DatePrecision


@pytest.mark.parametrize(
    ("text", "start", "precision"),
    [
        ("2022", date(2022, 1, 1), DatePrecision.YEAR),
        ("2023-07", date(2023, 7, 1), DatePrecision.MONTH),
        ("2022-02-24", date(2022, 2, 24), DatePrecision.DAY),
        ("2024-02-29", date(2024, 2, 29), DatePrecision.DAY),
    ],
)
def test_parse_date(text: str, start: date, precision: DatePrecision) -> None:
    parsed = parse_date(text)
    assert (parsed.start, parsed.precision) == (start, precision)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2023-02-30", "February 2023 has 28 days, not 30"),
        ("2023-13", "no month 13"),
        ("yesterday", "not a date"),
        ("1066", "outside"),
        ("2023-00-10", "no month 0"),
        ("2023/07/01", "not a date"),
    ],
)
def test_impossible_dates_are_explained(text: str, message: str) -> None:
    with pytest.raises(DateError, match=message):
        parse_date(text)


def test_month_range_end() -> None:
    assert parse_date("2024-02").end == date(2024, 2, 29)
    assert parse_date("2023").end == date(2023, 12, 31)


def test_format_date_by_precision() -> None:
    assert format_date(date(2022, 2, 24), "day") == "24 Feb 2022"
    assert format_date(date(2023, 7, 1), "month") == "Jul 2023"
    assert format_date(date(2023, 1, 1), "year") == "2023"
    assert format_date(date(2023, 6, 1), "approximate", "before the Vilnius summit") == (
        "before the Vilnius summit"
    )
