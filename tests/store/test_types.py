"""The lenient readers of legacy values, value by value."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from backend.models.types import parse_metadata, parse_timestamp


@pytest.mark.parametrize(
    "stored,expected",
    [
        ("2024-05-06 07:08:09", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("2024-05-06T07:08:09.5", datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)),
        ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("2024-05-06T09:08:09+02:00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        (" 2024-05-06 07:08:09 ", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        (b"2024-05-06 07:08:09", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        (1714979289, datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        (1714979289.25, datetime(2024, 5, 6, 7, 8, 9, 250000, tzinfo=UTC)),
        (datetime(2024, 5, 6, 7, 8, 9), datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        (datetime(2024, 5, 6, 9, 8, 9, tzinfo=timezone(timedelta(hours=2))), datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
        (True, None),
        (10**20, None),
        (b"\xff", None),
        ([1], None),
    ],
)
def test_every_timestamp_form_reads_as_aware_utc_or_none(stored, expected):
    parsed = parse_timestamp(stored)
    assert parsed == expected
    assert parsed is None or parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "stored,expected",
    [
        (None, {}),
        ("{}", {}),
        ('{"a": [1]}', {"a": [1]}),
        ({"a": 1}, {"a": 1}),
        ("[1]", {}),
        ('"s"', {}),
        (5, {}),
        ("{not json", {}),
        ("{'a': 1}", {}),
        ("", {}),
        (b'{"b": 2}', {"b": 2}),
        (b"\xff", {}),
    ],
)
def test_every_metadata_form_reads_as_a_dict(stored, expected):
    assert parse_metadata(stored) == expected


@pytest.mark.parametrize("metadata", [{}, {"a": [1, 2.5, None, True]}, {"é": "👋", "n": {"x": "y"}}])
def test_validation_encodes_metadata_exactly_as_it_is_stored(metadata):
    from backend.models.types import stored_metadata
    from backend.services.validation import Problems, check_metadata
    from backend.settings import Limits

    assert check_metadata(Problems(), metadata, Limits()) == stored_metadata(metadata)
