"""The first round's keyword taxonomy: its JSON/TOML file format and the word-start keyword rule.

Themes are now chosen by meaning (bot/theme_assign.py, docs/themes.md). This module remains for
two things: reading the first round's keyword files, which `NPSBOT_THEMES_FILE` may still name
(bot/theme_catalog.py turns them into themes), and the keyword rule that lets a theme file's
keywords win outright. The file format:

    replace = false            # true: use only the themes below; false: change/add to the seeds
    [themes]
    "Price" = ["expensive", "price", "pricing", "cost"]
    "Onboarding" = ["onboarding", "training"]
    "Bugs" = []                # an empty list removes a seeded theme

A keyword matches at the start of a word, case-insensitively: `bug` matches "bug", "bugs" and
"buggy" but not "debug"; a keyword may hold several words (`sales rep`). The SQL form of the rule
(`padded_comment`, `matches`) is kept for tools that count keyword hits in the database.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import ColumnElement, func, literal, or_

log = logging.getLogger(__name__)

DEFAULT_THEMES: dict[str, tuple[str, ...]] = {
    "Pushy sales": ("pushy", "salesperson", "sales rep", "sales team", "aggressive", "upsell", "hard sell",
                    "spam", "too many calls", "too many emails", "cold call"),
    "Website / UX": ("website", "web site", "navigat", "confusing", "clunky", "interface", "ui", "ux",
                     "usability", "hard to use", "hard to find", "layout", "design", "menu", "login",
                     "log in", "checkout"),
    "Support": ("support", "customer service", "helpdesk", "help desk", "ticket", "no response",
                "no answer", "unanswered", "rude", "unhelpful", "waited", "waiting", "on hold",
                "never replied", "never got back"),
    "Implementation / logistics": ("implement", "onboard", "setup", "set up", "install", "migration",
                                   "integration", "deliver", "shipping", "shipment", "delay", "late",
                                   "arrived", "logistic", "rollout", "training"),
    "Product under-delivers": ("missing", "lack", "doesn't do", "does not do", "not what", "expected more",
                               "promised", "limited", "basic", "feature", "functionality", "useless",
                               "not worth", "disappoint", "underwhelm"),
    "Price": ("price", "pricing", "expensive", "cost", "overpriced", "too much money", "fee", "charge",
              "billing", "invoice", "subscription", "renewal", "cheaper", "value for money"),
    "Bugs": ("bug", "buggy", "crash", "error", "broken", "glitch", "freez", "froze", "down time",
             "downtime", "outage", "not working", "doesn't work", "does not work", "slow", "lag",
             "data loss", "lost data"),
}

# Characters that commonly separate words in comments; each becomes a space before matching.
# Kept short on purpose: every one is a nested replace() in SQL, and SQLite's parser stack is
# small (about 30 nested calls overflow it).
SEPARATORS = ".,;:!?()\"/-\n\r\t"


@dataclass(frozen=True)
class Theme:
    name: str
    keywords: tuple[str, ...]


class ThemesError(ValueError):
    """The themes file could not be read; the message names the file and the problem."""


def _normalise_keyword(word: str) -> str:
    word = " ".join(str(word).lower().split())
    for ch in SEPARATORS:
        word = word.replace(ch, " ")
    return " ".join(word.split())


def parse_themes(data: dict, *, source: str = "themes file") -> tuple[Theme, ...]:
    """Merge a user's taxonomy (already parsed JSON/TOML) with the seeded one."""
    if not isinstance(data, dict):
        raise ThemesError(f"{source}: expected an object with a `themes` table")
    raw = data.get("themes", data if "replace" not in data else {})
    if not isinstance(raw, dict):
        raise ThemesError(f"{source}: `themes` must map theme names to lists of keywords")
    replace = bool(data.get("replace", False))
    merged: dict[str, tuple[str, ...]] = {} if replace else dict(DEFAULT_THEMES)
    for name, words in raw.items():
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ThemesError(f"{source}: theme {name!r} must be a list of keyword strings")
        cleaned = tuple(dict.fromkeys(k for k in (_normalise_keyword(w) for w in words) if k))
        if cleaned:
            merged[str(name)[:80]] = cleaned
        else:
            merged.pop(str(name), None)
    return tuple(Theme(name, words) for name, words in merged.items())


def default_themes() -> tuple[Theme, ...]:
    return tuple(Theme(name, tuple(_normalise_keyword(w) for w in words))
                 for name, words in DEFAULT_THEMES.items())


@lru_cache(maxsize=8)
def _load_file(path: str, mtime: float) -> tuple[Theme, ...]:
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        if path.lower().endswith(".toml"):
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "TOML" if path.lower().endswith(".toml") else "JSON"
        raise ThemesError(f"{path}: not valid {kind} ({exc})") from None
    return parse_themes(data, source=path)


def load_themes(path: str | None) -> tuple[Theme, ...]:
    """The taxonomy in force: the seeds, changed by the file at `path` when one is named.

    A missing or broken file is logged and the seeded taxonomy used, so a typo never stops the
    weekly digest.
    """
    if not path:
        return default_themes()
    try:
        return _load_file(path, os.path.getmtime(path))
    except (OSError, ThemesError) as exc:
        log.warning("themes.file_unusable", extra={"path": path, "reason": str(exc)[:300]})
        return default_themes()


def padded_comment(column) -> ColumnElement:
    """` ` + the comment in lower case with separators turned into spaces + ` `, in SQL."""
    expr = func.lower(column)
    for ch in SEPARATORS:
        expr = func.replace(expr, ch, " ")
    return literal(" ") + expr + literal(" ")


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(padded, theme: Theme) -> ColumnElement:
    """SQL condition: the padded comment holds a word starting with one of the theme's keywords."""
    return or_(*(padded.like(f"% {_like_escape(k)}%", escape="\\") for k in theme.keywords))


def classify_text(comment: str, themes: tuple[Theme, ...]) -> list[str]:
    """The same rule in Python, for tests and for a one-off check of a taxonomy."""
    text = comment.lower()
    for ch in SEPARATORS:
        text = text.replace(ch, " ")
    padded = f" {text} "
    return [t.name for t in themes if any(f" {k}" in padded for k in t.keywords)]
