"""What every survey-tool connector shares: field configuration, value parsing, the generic dict.

Each tool names things its own way (a Typeform field ref, a Qualtrics `QID1`, a Google Forms
question title, a Delighted person property). A connector collects the tool's values into a flat
`{name: value}` dict; `build()` then picks the NPS score, comment and customer properties from it
by the names configured for that tool (`NPSBOT_<TOOL>_<KEY>_FIELD`, comma-separated, case- and
punctuation-insensitive, `*` wildcards allowed) or the tool's defaults, and remembers which tool
field each generic field came from so a 422 can name the tool's field.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import ToolFields
from bot.ingest.schema import parse_number

KEYS = ("score", "comment", "segment", "arr", "owner", "customer_id", "customer_name", "email",
        "submitted_at")

# Defaults that hold for every tool: the names teams usually give these properties.
COMMON_DEFAULTS: dict[str, tuple[str, ...]] = {
    "score": ("score", "nps", "nps score", "*how likely*recommend*", "*recommend*"),
    "comment": ("comment", "comments", "feedback", "*why*", "*reason*", "*what could we*",
                "*improve*", "*tell us*"),
    "segment": ("segment", "customer segment", "plan", "tier"),
    "arr": ("arr", "annual recurring revenue", "account arr"),
    "owner": ("owner", "account owner", "csm", "customer success manager", "account manager"),
    "customer_id": ("customer id", "customer", "account id", "company id", "customer external id"),
    "customer_name": ("company", "company name", "customer name", "account", "account name",
                      "organization", "organisation"),
    "email": ("email", "email address", "e mail", "respondent email", "recipient email",
              "recipientemail", "customer email", "*email address*"),
    "submitted_at": ("submitted at", "submitted_at"),
}


def normalize(name: str) -> str:
    """`Customer_ID`, `customer-id`, `CustomerID` and ` Customer ID ` are the same name."""
    return re.sub(r"[\s_\-.:]+", "", str(name).lower())


def names_for(config: ToolFields, key: str,
              defaults: Mapping[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    configured = config.field_names(key)
    if configured:
        return configured
    own = (defaults or {}).get(key, ())
    return tuple(own) + tuple(n for n in COMMON_DEFAULTS.get(key, ()) if n not in own)


def find(values: Mapping[str, Any], names: Iterable[str], *, skip: Iterable[str] = (),
         aliases: Mapping[str, Iterable[str]] | None = None,
         allow_empty: bool = False) -> tuple[str, Any] | None:
    """The first field matching one of `names` (in order of the names) with a non-empty value.

    `aliases` gives other names a field answers to (a question's title besides its id).
    """
    skip = set(skip)
    keyed = []
    for key in values:
        if key in skip:
            continue
        keyed.append((key, [normalize(key)] + [normalize(a) for a in (aliases or {}).get(key, ())]))
    for name in names:
        pattern = normalize(name) if "*" not in name else "*" + normalize(name.strip("*")) + "*"
        for key, spellings in keyed:
            value = values[key]
            if not allow_empty and (value is None or (isinstance(value, str) and not value.strip())):
                continue
            if any(fnmatch.fnmatchcase(s, pattern) if "*" in pattern else s == pattern for s in spellings):
                return key, value
    return None


_SCORE = re.compile(r"^\s*(\d{1,2})(?:\.0+)?(?:\s*(?:[-–—:(/].*)?)?$")


def parse_score(value: Any) -> Any:
    """9, 9.0, "9", "9 - Extremely likely" -> 9; anything else is returned for validation to refuse."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = _SCORE.match(value)
        if m:
            return int(m.group(1))
    return value


_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%Y/%m/%d %I:%M:%S %p", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %I:%M %p", "%Y/%m/%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y",
    "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S %Z",
)
_GMT = re.compile(r"\s*(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\s*$", re.IGNORECASE)


def parse_datetime(value: Any, tz: str | None = None) -> datetime | None:
    """A tool's date as an aware datetime; None when it is empty; ValueError when unreadable.

    Accepts Unix seconds, ISO 8601 and the export formats of the supported tools (Qualtrics
    `2026-11-20 10:00:00`, SurveyMonkey `11/20/2026 10:00:00 AM`, Google Forms
    `2026/11/20 10:00:00 AM GMT+1`, Delighted `2026-11-20 10:00:00 -0800`). A date without an
    offset is read in `tz` (UTC when not given).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"timestamp {value!r} is out of range") from None
    text = str(value).strip()
    offset: tzinfo | None = None
    m = _GMT.search(text)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        offset = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))
        text = text[: m.start()].strip()
    elif re.search(r"\s(?:GMT|UTC)$", text):
        offset, text = UTC, text[:-3].strip()
    parsed = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(f"unreadable date {str(value)[:40]!r}")
    if parsed.tzinfo is None:
        if offset is None:
            try:
                offset = ZoneInfo(tz) if tz else UTC
            except (ZoneInfoNotFoundError, ValueError):
                offset = UTC
        parsed = parsed.replace(tzinfo=offset)
    return parsed


def scalar(value: Any) -> str | int | float | bool | None:
    """A tag value: lists are joined, other objects are left out (None)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value.strip()[:200] if isinstance(value, str) else value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)[:200]
    return None


@dataclass
class Mapped:
    """A response in the generic JSON shape, and the tool field each generic field came from."""

    item: dict
    origin: dict[str, str] = field(default_factory=dict)

    def tool_field(self, generic: str) -> str:
        return self.origin.get(generic, generic)


# Where each generic key lives in the generic JSON.
_PATHS = {"segment": "customer.segment", "arr": "customer.arr", "owner": "customer.owner",
          "customer_id": "customer.id", "customer_name": "customer.name", "email": "customer.email"}


def build(tool: str, response_id: Any, values: Mapping[str, Any], *, config: ToolFields,
          defaults: Mapping[str, tuple[str, ...]] | None = None,
          aliases: Mapping[str, Iterable[str]] | None = None,
          fixed: Mapping[str, tuple[str, Any]] | None = None,
          fallback: Mapping[str, tuple[str, Any]] | None = None,
          paths: Mapping[str, str] | None = None,
          submitted_at: tuple[str, Any] | None = None, tz: str | None = None,
          tags: Mapping[str, Any] | None = None, id_field: str = "id",
          strict_dates: bool = False) -> Mapped:
    """Pick the configured fields out of a tool's flat values and build the generic dict.

    `config` is the tool's settings group (`Settings.tool(tool)`): its `…_field` names win.

    `fixed` holds fields the tool itself defines (Delighted's `score`), as (tool field, value);
    a configured NPSBOT_<TOOL>_<KEY>_FIELD still wins over them. `fallback` fields are used when
    no configured or default name matches. `paths` turns a value's key into the path a 422 shows.
    With `strict_dates` an unreadable date raises ValueError (CSV rows); otherwise it is passed on
    for validation to refuse.
    """
    fixed = dict(fixed or {})
    paths = paths or {}
    picked, origin, used = _pick_fields(values, config=config, defaults=defaults, aliases=aliases,
                                        fixed=fixed, fallback=dict(fallback or {}), paths=paths)
    if "score" not in picked:
        raise _missing_score(tool, values, config=config, defaults=defaults, aliases=aliases,
                             fixed=fixed, paths=paths)

    item: dict[str, Any] = {"id": response_id, "score": parse_score(picked["score"]), "source": tool}
    origin["id"] = id_field
    if "comment" in picked:
        item["comment"] = str(picked["comment"]).strip()
    _add_submitted_at(item, origin, picked, submitted_at, tz=tz, strict_dates=strict_dates)
    customer = _customer(picked, origin)
    if customer:
        item["customer"] = customer
    clean_tags = _clean_tags(tags, used)
    if clean_tags:
        item["tags"] = clean_tags
    return Mapped(item, origin)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _pick_fields(values: Mapping[str, Any], *, config: ToolFields,
                 defaults: Mapping[str, tuple[str, ...]] | None,
                 aliases: Mapping[str, Iterable[str]] | None,
                 fixed: Mapping[str, tuple[str, Any]], fallback: Mapping[str, tuple[str, Any]],
                 paths: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str], set[str]]:
    """Each generic key's value, the (422) path of the tool field it came from, and the tool
    fields taken (a tool field answers one key only; the date may also be a tag)."""
    origin: dict[str, str] = {}
    picked: dict[str, Any] = {}
    used: set[str] = set()
    for key in KEYS:
        hit = _pick_one(key, values, config=config, defaults=defaults, aliases=aliases,
                        fixed=fixed, fallback=fallback, used=used)
        if hit is None or _blank(hit[1]):
            continue
        name, value = hit
        if key != "submitted_at":
            used.add(name)
        picked[key] = value
        origin[_PATHS.get(key, key)] = paths.get(name, name)
    return picked, origin, used


def _pick_one(key: str, values: Mapping[str, Any], *, config: ToolFields,
              defaults: Mapping[str, tuple[str, ...]] | None,
              aliases: Mapping[str, Iterable[str]] | None,
              fixed: Mapping[str, tuple[str, Any]], fallback: Mapping[str, tuple[str, Any]],
              used: set[str]) -> tuple[str, Any] | None:
    """The (tool field, value) for one generic key: configured names, else the tool's own field,
    else default names, else the fallback field."""
    configured = config.field_names(key)
    if key in fixed and not configured:
        return fixed[key]
    hit = find(values, names_for(config, key, defaults), skip=used, aliases=aliases)
    # A configured name that matches nothing is not silently replaced by a guess.
    if hit is None and not configured and key in fallback and fallback[key][0] not in used:
        hit = fallback[key]
    return hit


def _missing_score(tool: str, values: Mapping[str, Any], *, config: ToolFields,
                   defaults: Mapping[str, tuple[str, ...]] | None,
                   aliases: Mapping[str, Iterable[str]] | None,
                   fixed: Mapping[str, tuple[str, Any]], paths: Mapping[str, str]) -> MissingScore:
    """Why no score was picked: an unanswered NPS question, or no field with the score's name."""
    configured = config.field_names("score")
    empty = (None if configured else fixed.get("score")) or find(
        values, names_for(config, "score", defaults), aliases=aliases, allow_empty=True)
    if empty:
        return MissingScore(f"{paths.get(empty[0], empty[0])} is empty: the NPS question "
                            "was not answered")
    env = f"NPSBOT_{tool.upper().replace('-', '_')}_SCORE_FIELD"
    hint = (f"no field named {' or '.join(configured)} ({env})" if configured
            else f"no NPS question found; set {env}")
    return MissingScore(hint)


def _add_submitted_at(item: dict[str, Any], origin: dict[str, str], picked: Mapping[str, Any],
                      submitted_at: tuple[str, Any] | None, *, tz: str | None,
                      strict_dates: bool) -> None:
    """The picked date (else the tool's own `submitted_at`) as ISO 8601 in `item`; an unreadable
    one raises with `strict_dates` and is passed on as text otherwise."""
    when = picked.get("submitted_at")
    when_origin = origin.get("submitted_at")
    if when is None and submitted_at is not None:
        when_origin, when = submitted_at
    if when is None:
        return
    try:
        parsed = parse_datetime(when, tz)
        item["submitted_at"] = parsed.isoformat() if parsed else None
    except ValueError:
        if strict_dates:
            raise ValueError(f"{when_origin} is not a date npsbot can read "
                             f"({str(when)[:40]!r})") from None
        item["submitted_at"] = str(when)
    if item.get("submitted_at") is None:
        item.pop("submitted_at", None)
    origin["submitted_at"] = when_origin or "submitted_at"


def _customer(picked: Mapping[str, Any], origin: dict[str, str]) -> dict[str, Any]:
    """The generic `customer` object (empty when nothing about the customer was picked)."""
    customer: dict[str, Any] = {}
    for key in ("customer_id", "customer_name", "email", "segment", "owner"):
        if key in picked:
            customer[_PATHS[key].split(".")[1]] = str(picked[key]).strip()
    if "arr" in picked:
        customer["arr"] = parse_number(picked["arr"])
    if "id" not in customer and "email" in customer:
        # Without a customer id, the respondent's address still ties their answers together.
        customer["id"] = customer["email"].lower()
        origin["customer.id"] = origin["customer.email"]
    return customer


def _clean_tags(tags: Mapping[str, Any] | None, used: set[str]) -> dict[str, Any]:
    """The tool's other values as tags: not the fields already picked, nothing empty."""
    return {k[:100]: scalar(v) for k, v in (tags or {}).items()
            if k not in used and scalar(v) not in (None, "")}


class MissingScore(ValueError):
    """The payload has no answer the connector can read as the NPS score."""
