"""Schedule maths: weekday names, explicit time zones, daylight-saving weeks, grace and catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digest import period_start_for, week_edges
from bot.scheduler import Schedule, due_fire_time, last_fire_time, next_fire_time, trigger_for


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekday_is_by_name_not_number():
    # Wed 2026-11-18: the next "mon 09:00" is Monday the 23rd (a crontab "1" would be Tuesday in 3.x).
    fire = next_fire_time(trigger_for("mon", "09:00", "UTC"), utc(2026, 11, 18, 12))
    assert fire == utc(2026, 11, 23, 9) and fire.strftime("%a") == "Mon"
    assert next_fire_time(trigger_for("sun", "23:30", "UTC"), utc(2026, 11, 18)) == utc(2026, 11, 22, 23, 30)


def test_time_zone_is_explicit():
    # 17:30 in New York on a Friday in November (EST, UTC-5) is 22:30 UTC.
    assert next_fire_time(trigger_for("fri", "17:30", "America/New_York"), utc(2026, 11, 16)) == \
        utc(2026, 11, 20, 22, 30)
    # Tokyo's Monday 09:00 is Sunday 00:00 UTC.
    assert next_fire_time(trigger_for("mon", "09:00", "Asia/Tokyo"), utc(2026, 11, 18)) == utc(2026, 11, 23, 0)


def test_berlin_spring_forward_week():
    # Summer time starts Sun 2026-03-29: Monday 09:00 moves from 08:00 UTC to 07:00 UTC.
    trig = trigger_for("mon", "09:00", "Europe/Berlin")
    first = next_fire_time(trig, utc(2026, 3, 20))
    second = next_fire_time(trig, first + timedelta(seconds=1))
    assert (first, second) == (utc(2026, 3, 23, 8), utc(2026, 3, 30, 7))
    # The digest of the 30th covers exactly the time since the previous one: 167 hours.
    start = period_start_for(second, ZoneInfo("Europe/Berlin"))
    assert start == first and second - start == timedelta(hours=167)


def test_berlin_fall_back_week():
    trig = trigger_for("mon", "09:00", "Europe/Berlin")
    first = next_fire_time(trig, utc(2026, 10, 16))
    second = next_fire_time(trig, first + timedelta(seconds=1))
    assert (first, second) == (utc(2026, 10, 19, 7), utc(2026, 10, 26, 8))
    assert period_start_for(second, ZoneInfo("Europe/Berlin")) == first  # 169 hours


def test_trend_weeks_follow_local_mondays_across_dst():
    edges = week_edges(utc(2026, 4, 6, 7), ZoneInfo("Europe/Berlin"), 12)
    local = [e.astimezone(ZoneInfo("Europe/Berlin")) for e in edges]
    assert len(edges) == 13
    assert all(x.strftime("%a %H:%M") == "Mon 09:00" for x in local)
    assert edges[0] == utc(2026, 1, 12, 8) and edges[-1] == utc(2026, 4, 6, 7)


def test_last_fire_time_and_grace():
    trig = trigger_for("mon", "09:00", "Europe/Berlin")
    assert last_fire_time(trig, utc(2026, 11, 23, 8)) == utc(2026, 11, 23, 8)  # exactly at the time
    assert last_fire_time(trig, utc(2026, 11, 23, 7, 59)) == utc(2026, 11, 16, 8)
    sched = Schedule(1, "slack", "C1", "mon", "09:00", "Europe/Berlin", None, utc(2026, 1, 1))
    assert due_fire_time(sched, utc(2026, 11, 23, 7, 59)) is None  # last week's is long past the grace
    assert due_fire_time(sched, utc(2026, 11, 23, 8, 0, 30)) == utc(2026, 11, 23, 8)
    assert due_fire_time(sched, utc(2026, 11, 23, 13, 59)) == utc(2026, 11, 23, 8)  # delayed by a restart
    assert due_fire_time(sched, utc(2026, 11, 23, 14, 1)) is None  # more than 6 hours late: skipped


def test_a_schedule_set_after_its_time_does_not_post_at_once():
    sched = Schedule(1, "slack", "C1", "mon", "09:00", "UTC", None, updated_at=utc(2026, 11, 23, 9, 30))
    assert due_fire_time(sched, utc(2026, 11, 23, 9, 31)) is None
    assert due_fire_time(sched, utc(2026, 11, 30, 9, 1)) == utc(2026, 11, 30, 9)
