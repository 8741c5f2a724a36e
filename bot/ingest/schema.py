"""The generic response format (interface.md) and its validation: `ResponseIn`, and the mapping of
pydantic's errors to `FieldError`s that name each field in our own words."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict

from bot.limits import MAX_ARR

MAX_BATCH = 1000
MAX_COMMENT = 10_000
# How far in the future a submitted_at may be (clocks differ): beyond, it is refused.
_FUTURE_SLACK = timedelta(days=1).total_seconds()


# PostgreSQL cannot store NUL in text: refused here with a clear 422, not a failed write. A
# pattern is checked by pydantic's core, at no Python cost per field (imports run it millions of times).
NO_NUL = r"^[^\x00]*$"


def utc_instant(value: datetime) -> datetime:
    """A submitted_at in UTC (one without a zone is taken as UTC), refused if in the future."""
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    # Compared as POSIX seconds: datetime.now() plus a timedelta per answer was a tenth of an
    # import's validation time.
    if value.timestamp() > time.time() + _FUTURE_SLACK:
        raise ValueError("is in the future")
    return value


# The fields' types, shared by the JSON (ResponseIn) and the generic CSV (CsvRowIn): one set of
# rules for every door. Every check is made by pydantic's core but the date's zone and the CSV's
# numbers (no Python per row otherwise: imports run them millions of times).
# An integer id is taken as its text before validation (validate_item, _ids_as_text).
IdText = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
NulFree = Annotated[str, Field(pattern=NO_NUL)]
Score = Annotated[StrictInt, Field(ge=0, le=10)]
Comment = Annotated[str, Field(max_length=MAX_COMMENT, pattern=NO_NUL)]
Instant = Annotated[datetime, AfterValidator(utc_instant)]
Source = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Name = Annotated[str, Field(max_length=300, pattern=NO_NUL)]
Email = Annotated[str, Field(max_length=320, pattern=NO_NUL)]
Segment = Annotated[str, Field(max_length=100, pattern=NO_NUL)]
Owner = Annotated[str, Field(max_length=320, pattern=NO_NUL)]
# Strict: a number, never a string or a boolean ("must be a number"). The bounds sit on the
# float itself: on `float | None` pydantic would check them in Python, row by row.
Arr = Annotated[float, Field(ge=0, le=MAX_ARR, allow_inf_nan=False, strict=True)]

# What prepare (bot.ingest.store) takes of an answer's customer: its id, and these in this order.
CUSTOMER_FIELDS = ("name", "email", "segment", "arr", "owner")
CustomerSaid = tuple[str | None, tuple | None]  # (external id, the CUSTOMER_FIELDS' values)


@with_config(ConfigDict(extra="ignore", str_strip_whitespace=True))
class CustomerIn(TypedDict, total=False):
    """What an answer says about its customer; every field may be left out. A dict, not a model:
    an import validates a million of them, and a model instance costs a tenth of a row's validation."""

    id: IdText | None
    name: Name | None
    email: Email | None
    segment: Segment | None
    arr: Arr | None
    owner: Owner | None


class ResponseIn(BaseModel):
    """One survey response in the generic format of interface.md."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: IdText
    score: Score
    comment: Comment | None = None
    submitted_at: Instant | None = None
    customer: CustomerIn | None = None
    tags: dict[NulFree, NulFree | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None] | None = None
    source: Source = "api"

    def customer_said(self) -> CustomerSaid:
        """The customer's external id and the CUSTOMER_FIELDS' values (None where left out)."""
        own = self.customer
        if own is None:
            return None, None
        return own.get("id"), tuple(map(own.get, CUSTOMER_FIELDS))


# A CSV cell holds text; a number in it may be written as people write amounts.
_NUMBER_NOISE = re.compile(r"[\s,$€£¥]|USD|EUR|GBP", flags=re.IGNORECASE)


def parse_number(value: Any) -> Any:
    """48000, "48,000", "$48,000.50", "48000 USD" -> a number; other text is returned as is."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value
    try:
        return int(value)  # the usual case, decided without the pattern below
    except ValueError:
        pass
    text = _NUMBER_NOISE.sub("", str(value))
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return value


class CsvRowIn(BaseModel):
    """A row of the generic CSV (interface.md): ResponseIn with the customer's fields as columns of
    their own and every other column a tag. Validated as it comes from the file, blank cells left
    out: a million rows skip building the JSON shape first (a third of their validation time)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    __pydantic_extra__: dict[NulFree, NulFree]  # the other columns: tags

    id: IdText
    score: Annotated[Score, BeforeValidator(parse_number)]
    comment: Comment | None = None
    submitted_at: Instant | None = None
    source: Source = "api"
    customer_id: IdText | None = None
    customer_name: Name | None = None
    customer_email: Email | None = None
    segment: Segment | None = None
    arr: Annotated[Arr, BeforeValidator(parse_number)] | None = None
    owner: Owner | None = None

    @property
    def tags(self) -> dict[str, str] | None:
        return self.__pydantic_extra__ or None

    def customer_said(self) -> CustomerSaid:
        """As ResponseIn.customer_said: the values in CUSTOMER_FIELDS' order."""
        return self.customer_id, (self.customer_name, self.customer_email, self.segment, self.arr, self.owner)


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


# The models' validators called directly: model_validate's keyword handling in Python cost a
# million-row import 0.4 s.
_validate_response = ResponseIn.__pydantic_validator__.validate_python
_validate_csv_row = CsvRowIn.__pydantic_validator__.validate_python


def _ids_as_text(raw: dict) -> dict:
    """The item with an integer answer or customer id as its text: survey tools often number them,
    and 42 is the same id as "42". Done here, not by a validator on the field: pydantic calling
    Python for each id cost a fifth of a million-row import's validation."""
    rid, customer = raw.get("id"), raw.get("customer")
    cid = customer.get("id") if isinstance(customer, dict) else None
    if rid.__class__ is not int and cid.__class__ is not int:  # (bool is not int here, as wanted)
        return raw
    raw = dict(raw)
    if rid.__class__ is int:
        raw["id"] = str(rid)
    if cid.__class__ is int and isinstance(customer, dict):
        raw["customer"] = {**customer, "id": str(cid)}
    return raw


def validate_item(raw: Any, index: int | None = None) -> tuple[ResponseIn | None, list[FieldError]]:
    """Validate one item of a request body; return the model or the errors naming each field."""
    if not isinstance(raw, dict):
        return None, [FieldError("body" if index is None else "item", "must be a JSON object", index)]
    try:
        return _validate_response(_ids_as_text(raw)), []
    except ValidationError as exc:
        return None, _field_errors(exc, index)


def validate_csv_row(cells: dict[str, str]) -> tuple[CsvRowIn | None, list[FieldError]]:
    """Validate a row of the generic CSV (column -> cell); a blank cell is a column left out, and
    spaces around a cell do not count."""
    given = {column: cell for column, cell in cells.items() if cell and not cell.isspace()}
    try:
        return _validate_csv_row(given), []
    except ValidationError as exc:
        # Text cells are stripped by the model, a date is not: a refused row is tried once more
        # with every cell stripped (rarely needed, so the usual row pays nothing for it).
        stripped = {column: cell.strip() for column, cell in given.items()}
        if stripped == given:
            return None, _field_errors(exc)
    try:
        return _validate_csv_row(stripped), []
    except ValidationError as exc:
        return None, _field_errors(exc)


def _field_errors(exc: ValidationError, index: int | None = None) -> list[FieldError]:
    errors, seen = [], set()
    # A tag that is an infinite number fails every member of its union; "finite" says why.
    for err in sorted(exc.errors(), key=lambda e: e["type"] != "finite_number"):
        name = _field_name(err["loc"])
        if name in seen:
            continue
        seen.add(name)
        errors.append(FieldError(name, _error_message(err, name), index))
    return errors


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

