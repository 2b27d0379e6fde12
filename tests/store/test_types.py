"""The lenient readers of legacy values, value by value."""

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.models.types import STORED_TIMESTAMP_FORMAT, parse_metadata, parse_timestamp, stored_timestamp


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
    assert parsed is None or parsed.tzinfo is UTC


offsets = st.timedeltas(timedelta(hours=-23, minutes=-59), timedelta(hours=23, minutes=59))


@given(naive=st.datetimes())
def test_a_naive_time_reads_as_the_same_wall_clock_in_utc(naive):
    # What every stored time goes through: the same fields, UTC's own tzinfo, as replace(tzinfo=UTC) gives.
    for stored in (naive, naive.isoformat(), naive.isoformat(" "), stored_timestamp(naive, "sqlite")):
        parsed = parse_timestamp(stored)
        assert parsed.tzinfo is UTC and parsed.replace(tzinfo=None) == naive, stored


@given(when=st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)), offset=offsets)
def test_a_time_is_stored_as_naive_utc_whatever_its_offset(when, offset):
    aware = when.replace(tzinfo=timezone(offset))
    expected = aware.astimezone(UTC).replace(tzinfo=None)
    assert stored_timestamp(aware, "postgresql") == expected
    assert stored_timestamp(when, "postgresql") == when  # naive: taken as UTC
    stored = stored_timestamp(aware, "sqlite")
    assert len(stored) == 26 and datetime.strptime(stored, STORED_TIMESTAMP_FORMAT) == expected


def test_a_year_before_1000_is_stored_with_four_digits_and_reads_back():
    # strftime's %Y writes the year 5 as "5" on glibc: such a time was stored and read back as null.
    when = datetime(5, 6, 7, 8, 9, 10, tzinfo=UTC)
    assert stored_timestamp(when, "sqlite") == "0005-06-07 08:09:10.000000"
    assert parse_timestamp(stored_timestamp(when, "sqlite")) == when


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


class _Local(datetime):
    """A datetime subclass, as pendulum's is: converted by its own methods, not by plain datetime arithmetic."""


class _NoOffset(tzinfo):
    def utcoffset(self, dt):
        return None


def test_a_datetime_subclass_and_a_zone_without_offset_take_the_general_way():
    parsed = parse_timestamp(_Local(2024, 5, 6, 7, 8, 9))
    assert type(parsed) is _Local and parsed == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC) and parsed.tzinfo is UTC
    aware = _Local(2024, 5, 6, 9, 8, 9, tzinfo=timezone(timedelta(hours=2)))
    assert stored_timestamp(aware, "postgresql") == datetime(2024, 5, 6, 7, 8, 9)
    odd = datetime(2024, 5, 6, 7, 8, 9, tzinfo=_NoOffset())  # read as local time, as astimezone reads it
    assert stored_timestamp(odd, "postgresql") == odd.replace(tzinfo=None).astimezone(UTC).replace(tzinfo=None)
