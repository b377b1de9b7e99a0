import pytest

from river_core.twin.vocabulary import build_vocabulary, clean_phrase, query_phrases, singular


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("make the animal she is playing with look like bronze", ["animal", "person"]),
        ("blur whoever touches the red ball last", ["red ball", "ball", "person"]),
        ("turn the three red cups into gold", ["red cup", "cup"]),
        ("make the coffee mug blue", ["coffee mug", "mug"]),
        ("change the color of the car that is closest to the camera", ["car"]),
        ("blur the man juggling the football", ["football", "person"]),
        ("pixelate every face", ["face"]),
        ("recolor dogs", ["dog"]),  # a known category without a determiner
        ("", []),
    ],
)
def test_query_phrases(query: str, expected: list[str]) -> None:
    assert query_phrases(query) == expected


def test_singular_and_clean_phrase() -> None:
    assert [singular(w) for w in ["cups", "boxes", "children", "glass", "bus", "berries", "dog"]] == [
        "cup", "box", "child", "glass", "bus", "berry", "dog",
    ]  # fmt: skip
    assert clean_phrase("A red cup.") == "red cup"
    assert clean_phrase("1. the yellow balls") == "yellow ball"
    assert clean_phrase("a very long description that is not a noun phrase at all") == ""
    assert clean_phrase("\x00\ufffd%%") == ""


def test_vocabulary_order_dedup_and_limit() -> None:
    vocab = build_vocabulary(
        "turn the cup gold", ["Cups", "a table", "table", ""], ["person", "cup"], limit=4
    )
    assert vocab == ["cup", "table", "person"]
    many = [f"{a}{b} box" for a in "abcdefghij" for b in "xyz"]
    assert build_vocabulary(None, many, (), limit=24) == [f"{p}" for p in many[:24]]
