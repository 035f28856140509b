"""`describe_data`: one wording for where candles came from, and `Interval.display`."""

from __future__ import annotations

import pytest

from ohlcv import Interval, describe_data


def test_store_data_from_the_fake_is_synthetic_and_never_called_sample() -> None:
    label = describe_data("store", True)
    assert label.synthetic
    for text in (label.tag, label.text, label.note or ""):
        assert "sample" not in text.lower(), text
    assert "SYNTHETIC" in label.tag and "fake Bybit" in label.tag and "store" in label.tag
    assert label.note == (
        "Synthetic candles from the offline fake Bybit, read from the store: "
        "not evidence about the real market."
    )


def test_sample_is_synthetic_whatever_the_flag() -> None:
    for flag in (True, False):
        label = describe_data("sample", flag)
        assert label.synthetic and label.tag == "SYNTHETIC sample series"
        assert "source='sample'" in (label.note or "")


@pytest.mark.parametrize("source", ["store", "file", "exchange", None])
def test_market_data_has_no_synthetic_note(source: str | None) -> None:
    label = describe_data(source, False)
    assert label.note is None and "SYNTHETIC" not in label.tag and "synthetic" not in label.text


@pytest.mark.parametrize("source", ["file", "exchange", None, "unknown"])
def test_other_synthetic_sources_say_synthetic_not_sample(source: str | None) -> None:
    label = describe_data(source, True)
    assert label.tag.startswith("SYNTHETIC") and label.note and label.note.startswith("Synthetic")
    assert "sample" not in label.note


@pytest.mark.parametrize(
    ("label", "shown"),
    [("1", "1m"), ("15", "15m"), ("60", "1h"), ("240", "4h"), ("720", "12h"), ("D", "1D"),
     ("W", "1W"), ("M", "1M"), ("1h", "1h"), ("90", "90m")],
)  # fmt: skip
def test_interval_display_has_the_unit(label: str, shown: str) -> None:
    assert Interval.parse(label, native_only=False).display == shown
