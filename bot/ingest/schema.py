"""The generic response format (interface.md) and its validation: `ResponseIn`, and the mapping of
pydantic's errors to `FieldError`s that name each field in our own words."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    with_config,
)
from typing_extensions import TypedDict

from bot.limits import MAX_ARR

MAX_BATCH = 1000
MAX_COMMENT = 10_000
# How far in the future a submitted_at may be (clocks differ): beyond, it is refused.
_FUTURE_SLACK = timedelta(days=1).total_seconds()


def _id_text(value: Any) -> Any:
    # Survey tools often number their responses; an integer id is the same id as its text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# PostgreSQL cannot store NUL in text: refused here with a clear 422, not a failed write. A
# pattern is checked by pydantic's core, at no Python cost per field (imports run it millions of times).
NO_NUL = r"^[^\x00]*$"
IdText = Annotated[str, BeforeValidator(_id_text), Field(min_length=1, max_length=200, pattern=NO_NUL)]
NulFree = Annotated[str, Field(pattern=NO_NUL)]


@with_config(ConfigDict(extra="ignore", str_strip_whitespace=True))
class CustomerIn(TypedDict, total=False):
    """What an answer says about its customer; every field may be left out. A dict, not a model:
    an import validates a million of them, and a model instance costs a tenth of a row's validation."""

    id: IdText | None
    name: Annotated[str, Field(max_length=300, pattern=NO_NUL)] | None
    email: Annotated[str, Field(max_length=320, pattern=NO_NUL)] | None
    segment: Annotated[str, Field(max_length=100, pattern=NO_NUL)] | None
    # Strict: a number, never a string or a boolean ("must be a number"). The bounds sit on the
    # float itself: on `float | None` pydantic would check them in Python, row by row.
    arr: Annotated[float, Field(ge=0, le=MAX_ARR, allow_inf_nan=False, strict=True)] | None
    owner: Annotated[str, Field(max_length=320, pattern=NO_NUL)] | None


class ResponseIn(BaseModel):
    """One survey response in the generic format of interface.md."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: IdText
    # Every check below is made by pydantic's core (no Python per row: imports run it millions of times).
    score: Annotated[StrictInt, Field(ge=0, le=10)]
    comment: str | None = Field(None, max_length=MAX_COMMENT, pattern=NO_NUL)
    submitted_at: datetime | None = None
    customer: CustomerIn | None = None
    tags: dict[NulFree, NulFree | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None] | None = None
    source: str = Field("api", min_length=1, max_length=100, pattern=NO_NUL)

    @field_validator("submitted_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range") from None
        # Compared as POSIX seconds: datetime.now() plus a timedelta per answer was a tenth of an
        # import's validation time.
        if value.timestamp() > time.time() + _FUTURE_SLACK:
            raise ValueError("is in the future")
        return value



@dataclass(frozen=True)
class FieldError:
    """One reason an item was refused, shaped like interface.md's `errors` entries."""

    field: str
    message: str
    index: int | None = None

    def as_json(self) -> dict:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.index is not None:
            out = {"index": self.index, **out}
        return out


_MESSAGES = {
    "missing": "is required",
    "int_type": "must be a whole number from 0 to 10",
    "int_parsing": "must be a whole number from 0 to 10",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "datetime_parsing": "must be an ISO 8601 date-time such as 2026-11-20T10:00:00Z",
    "datetime_type": "must be an ISO 8601 date-time such as 2026-11-20T10:00:00Z",
    "datetime_from_date_parsing": "must be an ISO 8601 date-time such as 2026-11-20T10:00:00Z",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "string_pattern_mismatch": "must not contain NUL characters",
    "float_type": "must be a number",
}


def _error_message(err: Mapping[str, Any], field: str = "") -> str:
    kind = err["type"]
    if field == "score" and kind in ("greater_than_equal", "less_than_equal"):
        return _MESSAGES["int_type"]
    if kind == "finite_number" and field.startswith("tags."):
        return "must be a finite number"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind == "string_too_long":
        return f"must be at most {err['ctx']['max_length']} characters"
    if kind == "less_than_equal":
        return f"must be at most {err['ctx']['le']:,.0f}"
    if kind in ("greater_than_equal", "finite_number"):
        return "must be a non-negative number" if kind == "greater_than_equal" else "must be finite"
    return _MESSAGES.get(kind, err["msg"])


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "json-or-python"))]
    # Union members add their type name to the location; the user only wants the field path.
    parts = [p for p in parts if p not in ("str", "int", "float", "bool", "none", "constrained-str")]
    if "[key]" in parts:  # a bad key is named by its dict (the key itself may be unprintable)
        parts = parts[:parts.index("[key]") - 1]
    return ".".join(parts) or "body"


def validate_item(raw: Any, index: int | None = None) -> tuple[ResponseIn | None, list[FieldError]]:
    """Validate one item of a request body; return the model or the errors naming each field."""
    if not isinstance(raw, dict):
        return None, [FieldError("body" if index is None else "item", "must be a JSON object", index)]
    try:
        return ResponseIn.model_validate(raw), []
    except ValidationError as exc:
        errors, seen = [], set()
        # A tag that is an infinite number fails every member of its union; "finite" says why.
        for err in sorted(exc.errors(), key=lambda e: e["type"] != "finite_number"):
            name = _field_name(err["loc"])
            if name in seen:
                continue
            seen.add(name)
            errors.append(FieldError(name, _error_message(err, name), index))
        return None, errors


def validate_body(body: Any) -> tuple[list[ResponseIn], list[FieldError]]:
    """Validate a webhook body: one object, or an array of up to 1,000 objects."""
    if isinstance(body, dict):
        item, errors = validate_item(body)
        return ([item] if item else []), errors
    if not isinstance(body, list):
        return [], [FieldError("body", "must be a response object or an array of them")]
    if not body:
        return [], [FieldError("body", "must not be an empty array")]
    if len(body) > MAX_BATCH:
        return [], [FieldError("body", f"has {len(body)} items; a batch holds at most {MAX_BATCH}")]
    items, errors = [], []
    for index, raw in enumerate(body):
        item, item_errors = validate_item(raw, index)
        errors.extend(item_errors)
        if item:
            items.append(item)
    return items, errors

