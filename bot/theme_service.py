"""Themes at run time: which apply, assigning them at ingest, and people's corrections.

The assigner (theme centres) is built once per state of its inputs — theme file (path, mtime),
themes added in chat and people's corrections — and cached; each ingest batch asks the database
one cheap question (the newest ids of those two tables) to know whether it is still current.
Assigning costs well under a millisecond a comment (bench/themes.py), so it runs inside the
ingest transaction and the stored theme is there for the alert, `show N`, filters and the digest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from bot import outbox
from bot.actors import Actor
from bot.config import Settings
from bot.errors import NotFound, NpsError
from bot.runtime import Runtime
from bot.theme_assign import SOURCE_PERSON, Assigner
from bot.theme_catalog import MAX_NAME, ThemeDef, file_themes, merged
from bot.theme_model import load_model
from storage.db import read_scope, session_scope
from storage.models import Category, Event, FollowUp, Response, ThemeAdded, ThemeExample

_lock = threading.Lock()
_cache: dict[tuple, Assigner] = {}
NONE_WORDS = ("none", "-")


def _state(conn: Connection | Session, settings: Settings) -> tuple:
    import os

    path = settings.themes_file
    try:
        mtime = os.path.getmtime(path) if path else 0.0
    except OSError:
        mtime = -1.0
    ex = conn.execute(select(func.max(ThemeExample.id), func.count(ThemeExample.id))).one()
    added = conn.execute(select(func.max(ThemeAdded.id), func.count(ThemeAdded.id))).one()
    return (path, mtime, settings.theme_min_score, tuple(ex), tuple(added))


def themes_in_force(conn: Connection | Session, settings: Settings) -> tuple[ThemeDef, ...]:
    added = conn.execute(select(ThemeAdded.name, ThemeAdded.description).order_by(ThemeAdded.id)).all()
    return merged(file_themes(settings.themes_file), [tuple(a) for a in added])


def assigner(conn: Connection | Session, settings: Settings) -> Assigner:
    """The assigner for the current themes and corrections (built at most once per change)."""
    key = _state(conn, settings)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    themes = themes_in_force(conn, settings)
    learned: dict[str, list[str]] = {}
    for theme, text in conn.execute(select(ThemeExample.theme, ThemeExample.text).order_by(ThemeExample.id)):
        learned.setdefault(theme, []).append(text)
    built = Assigner(load_model(), themes, learned, min_score=settings.theme_min_score)
    with _lock:
        _cache.clear()
        _cache[key] = built
    return built


_NO_THEME = {"theme": None, "theme_source": None}


def assign_rows(conn: Connection | Session, settings: Settings, rows: list[dict],
                themes: Callable[[], Assigner] | None = None) -> None:
    """Set `theme`/`theme_source` on new response rows: detractors with a comment only.

    `themes`: gives the assigner to use (an import's writer keeps one per transaction); by
    default the current one. Asked only when a row needs a theme."""
    detractor = Category.DETRACTOR.value  # an enum's value is a property: read once, not per row
    todo = [r for r in rows if r["category"] == detractor and r.get("comment")]
    for r in rows:
        r.update(_NO_THEME)
    if not todo:
        return
    using = themes() if themes is not None else assigner(conn, settings)
    for r, a in zip(todo, using.assign_many([r["comment"] for r in todo]), strict=True):
        r["theme"], r["theme_source"] = a.theme, a.source


def resolve(themes: tuple[ThemeDef, ...], name: str, *, what: str = "theme") -> str:
    """The theme meant by `name`: exact (case-insensitive) or the one theme it starts."""
    key = " ".join(name.strip().strip("\"'“”").split()).casefold()
    if not key:
        raise NpsError(f"Name a {what}; one of: {names_line(themes)}.")
    exact = [t.name for t in themes if t.name.casefold() == key]
    starts = [t.name for t in themes if t.name.casefold().startswith(key)]
    found = exact or starts
    if len(found) == 1:
        return found[0]
    if not found:
        raise NpsError(f"There is no theme `{name.strip()[:80]}`; the themes are: {names_line(themes)}.")
    raise NpsError(f"`{name.strip()[:80]}` could be {', '.join(found)}; say which.")


def names_line(themes: tuple[ThemeDef, ...]) -> str:
    return ", ".join(t.name for t in themes) or "(none configured)"


def set_theme(rt: Runtime, number: int, name: str, actor: Actor):
    """A person files #N's comment under a theme (or `none`): it wins and becomes an example."""
    from bot.queries import alert_view

    now = rt.clock.now()
    with session_scope(rt.engine) as session:
        fu = session.get(FollowUp, number)
        if fu is None:
            raise NotFound(f"There is no follow-up #{number}.")
        response = session.get(Response, fu.latest_response_id) if fu.latest_response_id else None
        if response is None:
            raise NpsError(f"#{number} has no answer to file under a theme.")
        theme = None if name.strip().lower() in NONE_WORDS else resolve(themes_in_force(session, rt.settings), name)
        old = response.theme
        session.execute(update(Response).where(Response.id == response.id)
                        .values(theme=theme, theme_source=SOURCE_PERSON))
        session.execute(delete(ThemeExample).where(ThemeExample.response_id == response.id))
        if theme and response.comment:
            session.execute(insert(ThemeExample).values(theme=theme, text=response.comment, response_id=response.id,
                                                        actor_name=actor.name[:200], created_at=now))
        change = f"{old or 'none'} → {theme or 'none'}"
        session.execute(insert(Event).values(followup_id=number, at=now, actor_id=actor.key,
                                             actor_name=actor.name, action="theme", text=change))
        outbox.refresh_alert(session, number, now=now, thread_text=f"{actor.name} set the theme: {change}")
        session.flush()
        session.expire_all()
        view = alert_view(session, number, settings=rt.settings, now=now)
    rt.wake()
    return view


def check_cause(session: Session, settings: Settings, number: int, cause: str | None) -> str | None:
    """The theme a close names as its cause; refused when required and missing."""
    if cause:
        return resolve(themes_in_force(session, settings), cause, what="cause")
    if settings.close_requires_cause:
        themes = themes_in_force(session, settings)
        raise NpsError(f"Closing needs a cause here (NPSBOT_CLOSE_REQUIRES_CAUSE): "
                       f"`close {number} OUTCOME cause=THEME`, a theme of: {names_line(themes)}.")
    return None


def theme_counts(rt: Runtime, days: int = 30) -> list[tuple[str, int]]:
    """`themes`: every theme in force with its detractor-comment count over the last `days`."""
    now = rt.clock.now()
    with read_scope(rt.engine) as s:
        themes = themes_in_force(s, rt.settings)
        counts = dict(s.execute(
            select(Response.theme, func.count()).where(
                Response.submitted_at >= now - timedelta(days=days), Response.submitted_at < now,
                Response.category == Category.DETRACTOR.value, Response.theme.is_not(None),
            ).group_by(Response.theme)
        ).all())
    return [(t.name, counts.get(t.name, 0)) for t in themes]


def add_theme(rt: Runtime, name: str, description: str | None, actor: Actor) -> str:
    """Store a new theme (from a digest proposal or by hand), used from the next comment on."""
    name = " ".join(name.strip().strip("\"'“”").split())
    if not name or len(name) > MAX_NAME:
        raise NpsError(f"A theme name needs 1 to {MAX_NAME} characters.")
    with session_scope(rt.engine) as session:
        if any(t.name.casefold() == name.casefold() for t in themes_in_force(session, rt.settings)):
            raise NpsError(f"There is already a theme `{name}`.")
        session.execute(insert(ThemeAdded).values(name=name, description=(description or name).strip()[:1000],
                                                  created_by=actor.name[:200], created_at=rt.clock.now()))
    return f"Added the theme `{name}`; new comments can be filed under it from now on."


def assign_late_comment(session: Session, settings: Settings, response_id: int) -> None:
    """A comment that came after its score: theme it unless a person already chose."""
    r = session.get(Response, response_id)
    if r is None or r.theme_source == SOURCE_PERSON:
        return
    row = {"category": r.category, "comment": r.comment}
    assign_rows(session, settings, [row])
    session.execute(update(Response).where(Response.id == response_id)
                    .values(theme=row["theme"], theme_source=row["theme_source"]))
