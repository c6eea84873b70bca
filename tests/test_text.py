"""Name keys: transliteration and spelling variants fold to one key."""

from __future__ import annotations

import pytest

from knowledge.language.names import clean_input, name_key, slugify


@pytest.mark.parametrize(
    "spelling", ["Yermak", "Єрмак", "Ермак", "Jermak", "Iermak", "YERMAK", "yermack"]
)
def test_yermak_spellings_share_a_key(spelling: str) -> None:
    assert name_key(spelling) == name_key("Yermak")


@pytest.mark.parametrize(
    ("a", "b"),
    [("Zelenskyy", "Зеленський"), ("Zelensky", "Зеленский"), ("NATO", "НАТО"), ("Kyiv", "Київ")],
)
def test_transliterations_match(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


def test_different_names_differ() -> None:
    assert name_key("Yermak") != name_key("Zelensky")


def test_clean_input_strips_control_characters_and_caps_length() -> None:
    assert clean_input("a\x00b\u200bc\n  d", 100) == "abc d"
    assert len(clean_input("x" * 5000, 300)) == 300


def test_slugify_is_ascii() -> None:
    assert slugify("Андрій Єрмак!") == "andriy-yermak"
