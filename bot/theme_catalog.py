"""Which themes exist: the built-in B2B SaaS list, a team's theme file, and themes added in chat.

`NPSBOT_THEMES_FILE` in YAML (the format of interface.md "Themes"):

    themes:
      - name: Support responsiveness
        description: Tickets go unanswered, support is slow or unhelpful.
        examples: ["Waited a week for a reply to my ticket"]   # optional
        keywords: ["no response"]                             # optional: a match wins outright

The first round's JSON/TOML keyword files (`bot/themes.py`) are still read, unchanged: a file
ending in `.json` or `.toml` becomes one theme per keyword list, its keywords as overrides and the
name standing in for a description. A missing or malformed file is logged and the built-in list is
used, so a typo never stops alerts or the digest.

Themes proposed by the digest and accepted with **Add theme** are stored in the database
(`theme_added`), never written into the file: the file may be read-only config, and every replica
sees the table at once. They come after the file's themes; a name already there is ignored.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot import themes as legacy

log = logging.getLogger(__name__)

MAX_NAME = 80


@dataclass(frozen=True)
class ThemeDef:
    name: str
    description: str
    examples: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


BUILT_IN: tuple[ThemeDef, ...] = (
    ThemeDef("Bugs & reliability", "The product crashes, shows errors, goes down, loses or fails to sync data, "
             "or features break after updates."),
    ThemeDef("Speed & performance", "Pages, reports or the app are slow to load, lag or time out."),
    ThemeDef("Support", "Support is slow, tickets go unanswered, agents are unhelpful or rude, "
             "or problems are passed around without being solved."),
    ThemeDef("Onboarding & implementation", "Setup, data migration, training or the rollout took too long, "
             "was confusing or was poorly guided."),
    ThemeDef("Missing features", "The product lacks capabilities we need, does less than promised, "
             "or the roadmap ignores our requests."),
    ThemeDef("Ease of use", "The interface is confusing, cluttered or hard to navigate; simple tasks take "
             "too many clicks."),
    ThemeDef("Integrations", "It does not connect well with our other tools; the API, imports, exports or "
             "sync with other systems are limited."),
    ThemeDef("Price & billing", "It costs too much for the value, prices rose at renewal, or invoices and "
             "billing were wrong or confusing."),
    ThemeDef("Pushy sales", "Sales or account managers are aggressive, upsell constantly, or send too many "
             "calls and e-mails."),
)


class _ThemeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(min_length=1, max_length=1000)
    examples: list[str] = Field(default_factory=list, max_length=200)
    keywords: list[str] = Field(default_factory=list, max_length=200)


class _FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    themes: list[_ThemeIn] = Field(min_length=1)


def parse_yaml(text: str, *, source: str = "themes file") -> tuple[ThemeDef, ...]:
    """Themes from the YAML text of a theme file; `ThemesError` names the file and the field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise legacy.ThemesError(f"{source}: not valid YAML ({exc})") from None
    try:
        parsed = _FileIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "themes"
        raise legacy.ThemesError(f"{source}: `{where}`: {err['msg']}") from None
    out: dict[str, ThemeDef] = {}
    for t in parsed.themes:
        name = " ".join(t.name.split())
        if name.casefold() in {n.casefold() for n in out}:
            raise legacy.ThemesError(f"{source}: theme {name!r} is listed twice")
        out[name] = ThemeDef(
            name, " ".join(t.description.split()),
            tuple(e.strip() for e in t.examples if e.strip()),
            tuple(k for k in (legacy._normalise_keyword(w) for w in t.keywords) if k),
        )
    return tuple(out.values())


def _from_legacy(path: str) -> tuple[ThemeDef, ...]:
    old = legacy._load_file(path, os.path.getmtime(path))
    return tuple(ThemeDef(t.name, t.name, (), t.keywords) for t in old)


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> tuple[ThemeDef, ...]:
    if path.lower().endswith((".json", ".toml")):
        return _from_legacy(path)
    with open(path, encoding="utf-8") as fh:
        return parse_yaml(fh.read(), source=path)


def file_themes(path: str | None) -> tuple[ThemeDef, ...]:
    """The themes in force before any added in chat: the file's, or the built-in list."""
    if not path:
        return BUILT_IN
    try:
        return _load(path, os.path.getmtime(path))
    except (OSError, UnicodeDecodeError, legacy.ThemesError) as exc:
        log.warning("themes.file_unusable", extra={"path": path, "reason": str(exc)[:300]})
        return BUILT_IN


def merged(base: tuple[ThemeDef, ...], added: list[tuple[str, str]]) -> tuple[ThemeDef, ...]:
    """`base` followed by the stored (name, description) themes whose names are new."""
    names = {t.name.casefold() for t in base}
    extra = []
    for name, description in added:
        if name.casefold() not in names:
            names.add(name.casefold())
            extra.append(ThemeDef(name, description))
    return base + tuple(extra)


def find(themes: tuple[ThemeDef, ...], name: str) -> ThemeDef | None:
    """The theme called `name` (case and spacing ignored)."""
    key = " ".join(name.split()).casefold()
    return next((t for t in themes if t.name.casefold() == key), None)
