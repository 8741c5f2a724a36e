"""CSV presets: the survey tools' own exports, read by `npsbot import FILE.csv [--format F]`.

Each preset knows its tool's header rows (Qualtrics writes three: names, question texts and
`{"ImportId": …}` cells; SurveyMonkey two: headings and sub-headings), its response id and date
columns and their formats, and maps a row to the generic dict with the same field configuration
as the tool's webhook (`NPSBOT_<TOOL>_SCORE_FIELD`, …, matched against column names and, where the
export has them, question texts). Records keep their true line number in the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from bot.config import Settings, ToolFields
from bot.csvimport import CsvRecord, RowMapper, read_records
from handlers.connectors.common import build, normalize

FORMATS = ("generic", "delighted", "surveymonkey", "qualtrics", "typeform", "google-forms")

# Tools whose columns are question titles: the NPS question is the one about recommending,
# before a column merely called "score" (a Google Forms quiz adds one).
_TITLE_DEFAULTS = {"score": ("*how likely*recommend*", "*recommend*", "*nps*")}


def _rows(text: str | IO[str]) -> Any:  # csv.reader: an iterator of rows with `line_num`
    # A file is streamed (`npsbot import` never holds it whole); each reader starts at its top.
    if not isinstance(text, str):
        text.seek(0)
        return csv.reader(text)
    return csv.reader(io.StringIO(text.lstrip("\ufeff")))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        name = name.strip()
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _read(text: str | IO[str], header_rows: int, namer: Callable[[list[list[str]]], list[str]] | None = None,
          ) -> tuple[list[list[str]], Iterator[CsvRecord], list[str]]:
    """Header rows, then records (true first line of each) keyed by the names `namer` gives."""
    reader = _rows(text)
    headers: list[list[str]] = []
    for _ in range(header_rows):
        try:
            headers.append(next(reader))
        except StopIteration:
            break
    names = (namer or _names)(headers)

    def records() -> Iterator[CsvRecord]:
        last = reader.line_num
        for row in reader:
            start, last = last + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            padded = row + [""] * (len(names) - len(row))
            yield CsvRecord(start, {n: padded[i] for i, n in enumerate(names) if n})

    return headers, records(), names


def _names(headers: list[list[str]]) -> list[str]:
    if not headers:
        return []
    return _unique(headers[0])


def _first_row(text: str | IO[str], count: int = 3) -> list[list[str]]:
    reader = _rows(text)
    rows = []
    for row in reader:
        rows.append([c.strip() for c in row])
        if len(rows) >= count:
            break
    return rows


def detect(text: str | IO[str]) -> str:
    """The format of a CSV text: one of FORMATS ("generic" when nothing else fits)."""
    rows = _first_row(text)
    if not rows:
        return "generic"
    head = rows[0]
    lowered = {normalize(h) for h in head}
    if {"id", "score"} <= {h.lower() for h in head}:
        return "generic"
    if "responseid" in lowered and ({"startdate", "recordeddate"} & lowered):
        return "qualtrics"
    if head and normalize(head[0]) == "respondentid" and "collectorid" in lowered:
        return "surveymonkey"
    if (head and head[0] == "#") or "submit date (utc)" in {h.lower() for h in head}:
        return "typeform"
    if "responseid" in lowered and "score" in lowered:
        return "delighted"
    if head and normalize(head[0]) == "timestamp":
        return "google-forms"
    return "generic"


def records_for(fmt: str, text: str | IO[str], settings: Settings) -> tuple[Iterable[CsvRecord], RowMapper | None]:
    """The records of a CSV text in format `fmt` and the mapper of its rows to the generic dict
    (None for the generic columns: their rows are validated as they are)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "generic":
        return _generic(text)
    return _PRESETS[fmt](text, settings.tool(fmt))


def _generic(text: str | IO[str]) -> tuple[Iterable[CsvRecord], None]:
    _, records = read_records(text)
    return records, None


def _value(values: dict[str, str], *names: str) -> tuple[str, str] | None:
    for name in names:
        for key, value in values.items():
            if normalize(key) == normalize(name) and value and value.strip():
                return key, value.strip()
    return None


def _required_id(values: dict[str, str], *names: str) -> tuple[str, str]:
    found = _value(values, *names)
    if not found:
        raise ValueError(f"{names[0]} is empty")
    return found


def _delighted(text: str | IO[str], config: ToolFields) -> tuple[Iterable[CsvRecord], RowMapper]:
    _, records, _ = _read(text, 1)
    own = {normalize(n) for n in ("Response ID", "Score", "Comment", "Response timestamp", "Email", "Name",
                                  "Notes", "Tags")}

    def mapper(values: dict[str, str]) -> dict:
        rid = _required_id(values, "Response ID")[1]
        props = {k: v for k, v in values.items()
                 if normalize(k) not in own and not k.startswith("Delighted ")}
        fixed = {"score": _value(values, "Score") or ("Score", ""),
                 "comment": _value(values, "Comment") or ("Comment", "")}
        when = _value(values, "Response timestamp", "Created at")
        if when:
            fixed["submitted_at"] = when
        fallback = {k: v for k, v in (("email", _value(values, "Email")),
                                      ("customer_name", _value(values, "Name"))) if v}
        tags = {**props, "delighted_tags": values.get("Tags", "")}
        return build("delighted", rid, props, config=config, fixed=fixed, fallback=fallback, tags=tags,
                     strict_dates=True, id_field="Response ID").item

    return records, mapper


def _surveymonkey(text: str | IO[str], config: ToolFields) -> tuple[Iterable[CsvRecord], RowMapper]:
    def namer(headers: list[list[str]]) -> list[str]:
        # A question spanning several columns names only its first; the second row names the parts.
        top = headers[0] if headers else []
        parts = headers[1] if len(headers) > 1 else []
        names, heading = [], ""
        for i, cell in enumerate(top):
            heading = cell.strip() or heading
            part = parts[i].strip() if i < len(parts) else ""
            whole = part in ("", "Response", "Open-Ended Response")
            names.append(heading if whole else f"{heading} - {part}")
        return _unique(names)

    _, records, _ = _read(text, 2, namer)
    meta = {normalize(n) for n in ("Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address",
                                   "Email Address", "First Name", "Last Name")}

    def mapper(values: dict[str, str]) -> dict:
        rid = _required_id(values, "Respondent ID")[1]
        answers = {k: v for k, v in values.items() if normalize(k) not in meta}
        first, last = values.get("First Name", "").strip(), values.get("Last Name", "").strip()
        name = ("First Name", f"{first} {last}".strip())
        fallback = {k: v for k, v in (("email", _value(values, "Email Address")), ("customer_name", name))
                    if v and v[1]}
        fixed = {}
        when = _value(values, "End Date", "Start Date")
        if when:
            fixed["submitted_at"] = when
        return build("surveymonkey", rid, answers, config=config, defaults=_TITLE_DEFAULTS, fixed=fixed,
                     fallback=fallback, strict_dates=True, id_field="Respondent ID").item

    return records, mapper


def _qualtrics(text: str | IO[str], config: ToolFields) -> tuple[Iterable[CsvRecord], RowMapper]:
    from handlers.connectors import qualtrics  # its webhook's module: loaded for this format only

    rows = _first_row(text, 3)
    import_row = len(rows) > 2 and any(c.startswith('{"ImportId"') for c in rows[2])
    headers, records, names = _read(text, 3 if import_row else 2)
    texts = headers[1] if len(headers) > 1 else []
    aliases: dict[str, list[str]] = {}
    zones: dict[str, str] = {}
    for i, name in enumerate(names):
        aliases[name] = [texts[i]] if i < len(texts) and texts[i].strip() else []
        if import_row and i < len(headers[2]):
            try:
                meta: Any = json.loads(headers[2][i])
            except ValueError:
                meta = None
            if isinstance(meta, dict):
                if meta.get("ImportId"):
                    aliases[name].append(str(meta["ImportId"]))
                if meta.get("timeZone"):
                    zones[name] = str(meta["timeZone"])

    def mapper(values: dict[str, str]) -> dict:
        key, rid = _required_id(values, "ResponseId", "ResponseID", "_recordId")
        rest = {k: v for k, v in values.items() if k != key}
        when = next((k for k in ("RecordedDate", "EndDate") if rest.get(k, "").strip()), None)
        mapped = qualtrics.map_values(rid, rest, aliases=aliases, tz=zones.get(when or "", None),
                                      strict_dates=True, id_field=key, prefix="", config=config)
        return mapped.item

    return records, mapper


def _typeform(text: str | IO[str], config: ToolFields) -> tuple[Iterable[CsvRecord], RowMapper]:
    _, records, _ = _read(text, 1)
    meta = {"#", "response type", "start date (utc)", "stage date (utc)", "submit date (utc)",
            "network id", "tags", "ending"}

    def mapper(values: dict[str, str]) -> dict:
        rid = _required_id(values, "#", "Response ID", "Token")[1]
        answers = {k: v for k, v in values.items() if k.strip().lower() not in meta}
        when = _value(values, "Submit Date (UTC)")
        fixed = {"submitted_at": when} if when else {}
        return build("typeform", rid, answers, config=config, defaults=_TITLE_DEFAULTS, fixed=fixed,
                     strict_dates=True, tz="UTC", id_field="#").item

    return records, mapper


def _google_forms(text: str | IO[str], config: ToolFields) -> tuple[Iterable[CsvRecord], RowMapper]:
    _, records, _ = _read(text, 1)

    def mapper(values: dict[str, str]) -> dict:
        stamp = _value(values, "Timestamp")
        if not stamp:
            raise ValueError("Timestamp is empty")
        # A Google Forms export has no response id: the row's own content is its identity, so
        # importing the same export twice stores it once.
        digest = hashlib.sha256(json.dumps(sorted(values.items())).encode()).hexdigest()[:20]
        answers = {k: v for k, v in values.items() if normalize(k) != "timestamp"}
        return build("google-forms", f"gf-{digest}", answers, config=config, defaults=_TITLE_DEFAULTS,
                     fixed={"submitted_at": stamp}, strict_dates=True, id_field="Timestamp").item

    return records, mapper


_PRESETS: dict[str, Callable[..., Any]] = {"generic": _generic, "delighted": _delighted, "surveymonkey": _surveymonkey,
            "qualtrics": _qualtrics, "typeform": _typeform, "google-forms": _google_forms}
