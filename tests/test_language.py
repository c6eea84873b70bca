"""Language work: inflected words to dictionary forms, the language of a text, date phrases."""

from __future__ import annotations

import pytest

from knowledge.language.lemmas import lemmas, text_language
from knowledge.language.when import find_dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Хто такий Єрмака?", ["хто", "такий", "єрмак"]),
        ("саміті у Вільнюсі", ["саміт", "у", "вільнюс"]),
        ("Что случилось в Вильнюсе", ["что", "случиться", "в", "вильнюс"]),
        ("Ермаке", ["ермак"]),
        ("What happened at the summits?", ["what", "happen", "at", "the", "summit"]),
    ],
)
def test_words_reduce_to_their_dictionary_form(text: str, expected: list[str]) -> None:
    assert lemmas(text) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Хто такий Єрмак?", "uk"),
        ("Що сталося у Вільнюсі?", "uk"),
        ("Кто такой Ермак?", "ru"),
        ("Что случилось на саммите", "ru"),
        ("Who is Yermak?", "en"),
        ("What did Єрмак say?", "en"),
    ],
)
def test_the_language_of_a_text(text: str, language: str) -> None:
    assert text_language(text) == language


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("What happened in July 2023 at the summit?", [("July 2023", "2023-07", "month")]),
        ("Що сталося у липні 2023?", [("липні 2023", "2023-07", "month")]),
        ("в июле 2023 года", [("июле 2023", "2023-07", "month")]),
        ("у 2022 році", [("2022", "2022", "year")]),
        ("On 24 February 2022 Russia invaded", [("24 February 2022", "2022-02-24", "day")]),
        ("February 24, 2022", [("February 24, 2022", "2022-02-24", "day")]),
        ("11 липня 2023 року", [("11 липня 2023", "2023-07-11", "day")]),
        ("May 2023 talks", [("May 2023", "2023-05", "month")]),
        ("may the summit go well", []),
        ("2023-07-11, not 2022-13 or 2023-02-30", [("2023-07-11", "2023-07-11", "day")]),
        ("in the year 3000 or 12", []),
    ],
)
def test_date_phrases_are_as_precise_as_the_text(
    text: str, found: list[tuple[str, str, str]]
) -> None:
    assert [(p.text, p.date.iso(), p.date.precision.value) for p in find_dates(text)] == found


def test_a_month_without_a_year_is_never_given_one_silently() -> None:
    assert find_dates("talks in July") == []
    (phrase,) = find_dates("talks in July", default_year=2024)
    assert (phrase.date.iso(), phrase.year_stated) == ("2024-07", False)
