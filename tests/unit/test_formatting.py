"""The one formatting module: numbers, rates, dates and labels in both languages."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from service.paths import templates_dir
from service.render import formatting as f

CPH = ZoneInfo("Europe/Copenhagen")


@pytest.mark.parametrize(
    ("value", "decimals", "da", "en"),
    [(1188, 0, "1.188", "1,188"), (8054.5, 1, "8.054,5", "8,054.5"), (-77, 0, "−77", "−77"), (None, 0, "–", "–")],
)
def test_number_groups_and_decimal_mark_follow_the_language(value, decimals, da, en):
    assert f.number(value, decimals) == da
    assert f.number(value, decimals, lang="en") == en


def test_rates_and_points_read_as_a_press_release_would():
    assert f.percent(4.1) == "4,1 pct."
    assert f.percent(4.1, lang="en") == "4.1 %"
    assert f.points(0.2) == "+0,2 pct.-point"
    assert f.points(-0.3, lang="en") == "−0.3 percentage points"
    assert f.points(-0.3, lang="en", short=True) == "−0.3 pp"
    assert f.signed(0.04, 1) == "0,0"  # a change that rounds to nothing has no sign


def test_local_times_are_danish_24_hour_across_summer_time():
    winter = datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)
    summer = datetime(2026, 6, 1, 7, 30, tzinfo=timezone.utc)
    assert f.datetime_local(winter, CPH) == "1. december 2026 kl. 09.30"
    assert f.datetime_local(summer, CPH) == "1. juni 2026 kl. 09.30"
    assert f.datetime_local(winter, CPH, "en", zone=True) == "1 December 2026 at 09:30 (CET)"
    assert f.month_name("2026M10") == "oktober 2026" and f.month_name("2026M10", "en") == "October 2026"


def test_every_label_has_both_languages_and_unknown_values_show_as_themselves():
    labels = f.Labels.load(templates_dir() / "labels.toml")
    for group in labels.groups():
        for key, _ in labels.options(group):
            assert labels.get(group, key, "da") and labels.get(group, key, "en"), (group, key)
    assert labels.get("campaign_status", "draft") == "Kladde"
    assert labels.get("campaign_status", "draft", "en") == "Draft"
    assert labels.get("campaign_status", "no-such") == "no-such"
    assert f.language("EN-gb") == "en" and f.language(None) == "da"
