"""CSV import: rows of interface.md's columns (or a survey tool's export) into responses.

Each row is validated on its own: good rows are stored, bad rows are reported with their line
number in the file (the header is line 1) and the reason. Re-importing a file stores nothing twice.

The file is streamed: records are parsed one by one, validated, and stored in fixed-size chunks by
the same set-based step as the webhooks (bot.ingest), so memory does not grow with the file.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import func, select

from bot.ingest import ResponseIn, validate_item
from bot.ingest.schema import CsvRowIn, validate_csv_row
from bot.ingest.store import Prepared, SaidBefore, prepare
from bot.ingest.stream import StreamWriter
from bot.runtime import Runtime
from storage.db import deferred_indexes, read_scope
from storage.models import Response

# Where a JSON field's error is reported in CSV terms (a survey tool's rows, mapped to the JSON).
FIELD_TO_COLUMN = {"customer.id": "customer_id", "customer.name": "customer_name",
                   "customer.email": "customer_email", "customer.segment": "segment",
                   "customer.arr": "arr", "customer.owner": "owner"}


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


# Rows validated per chunk (what the reader process hands over at a time): small enough that a
# pickled chunk (about 400 KB with short comments) fits the pipe twice over, so the reader is never
# held up by a chunk the storing process has not read yet. 5,000-row chunks (1 MB and more) made a
# million-row import take 30-35 s instead of 24-27 s.
CHUNK = 2000
# Rows per SQLite transaction of an import (bot/ingest/stream.py says why several chunks share one):
# small enough that an interrupted import loses little (re-running it finishes the rest) and a
# server sharing the database waits at most a fraction of a second for its turn to write.
TRANSACTION_ROWS = 20_000
# An import of at least this many rows (estimated from the file's size), and at least as many as are
# stored already, builds the customer index at its end instead of row by row (storage/db.py
# deferred_indexes): a million rows take about 5 s less.
DEFER_INDEXES_MIN_ROWS = 100_000
# Rejected rows listed with their reason; beyond this they are only counted (memory stays flat).
MAX_LISTED_REJECTS = 10_000


@dataclass
class ImportSummary:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    followups_opened: int = 0
    # Detractors older than the live window: stored and counted, no follow-up (bot/livewindow.py).
    history: int = 0
    rejected_unlisted: int = 0

    @property
    def rejected_count(self) -> int:
        return len(self.rejected) + self.rejected_unlisted

    def reject(self, line: int, reason: str) -> None:
        if len(self.rejected) < MAX_LISTED_REJECTS:
            self.rejected.append(Rejected(line, reason))
        else:
            self.rejected_unlisted += 1


@dataclass(slots=True)  # not frozen: a frozen dataclass costs three times as much to make, per row
class CsvRecord:
    """One data record of a CSV file and the line it starts on."""

    line: int
    values: dict[str, str]


def read_records(text: str | IO[str]) -> tuple[list[str], Iterator[CsvRecord]]:
    """The header and the records of a CSV text (or text stream), each with its first line number."""
    if isinstance(text, str):
        text = io.StringIO(text)
    else:
        text.seek(0)
    reader = csv.reader(text)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        return [], iter(())

    width, named = len(header), all(header)

    def records() -> Iterator[CsvRecord]:
        last = reader.line_num
        for row in reader:
            start = last + 1
            last = reader.line_num
            if not "".join(row).strip():  # a blank line, or only separators
                continue
            if named and len(row) == width:  # the usual row, zipped in C
                yield CsvRecord(start, dict(zip(header, row, strict=True)))
                continue
            padded = row + [""] * (width - len(row))
            yield CsvRecord(start, {h: padded[i] for i, h in enumerate(header) if h})

    return header, records()


# A survey tool's row (column -> cell) as the generic JSON; None for the generic columns, whose rows
# are validated as they are (bot.ingest.schema.CsvRowIn).
RowMapper = Callable[[dict[str, str]], dict]


Progress = Callable[..., None]  # progress(rows, position=None): rows done; bytes read when known


def import_records(rt: Runtime, records: Iterable[CsvRecord], *, mapper: RowMapper | None = None,
                   progress: Progress = lambda n, position=None: None, parallel: bool = False,
                   position: Callable[[], int] | None = None, size: int | None = None) -> ImportSummary:
    """Validate every record, store the good ones in chunks, and report the bad ones.

    `parallel` (what `npsbot import` asks for) reads and validates in a second process while this
    one stores (bot/importpipe.py); `position` tells the bytes read so far, for progress and, with
    the file's `size`, to estimate how many rows are coming (see DEFER_INDEXES_MIN_ROWS).
    """
    # The cyclic garbage collector would otherwise rescan every long-lived object again and again
    # while millions of short-lived rows pass by (half the time of validation): what exists now is
    # frozen out of its sight, and young garbage is collected once per chunk instead.
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        if parallel:
            from bot import importpipe

            chunks = importpipe.prepared_in_child(records, mapper, position)
        else:
            chunks = ((prepared, rejects, position() if position else None)
                      for prepared, rejects in prepared_chunks(records, mapper))
        return _store(rt, chunks, progress, size)
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


Rejects = list[tuple[int, str]]


def validated_chunks(records: Iterable[CsvRecord], mapper: RowMapper | None) -> Iterator[tuple[list, Rejects]]:
    """Chunks of CHUNK records: the valid ones as CsvRowIn or ResponseIn, the others as (line, reason)."""
    items: list[CsvRowIn | ResponseIn] = []
    rejects: Rejects = []
    for record in records:
        reason = None
        item: CsvRowIn | ResponseIn | None
        if mapper is None:
            item, errors = validate_csv_row(record.values)
        else:
            try:
                item, errors = validate_item(mapper(record.values))
            except ValueError as exc:  # the tool's row cannot be read; the message says why
                item, errors, reason = None, [], str(exc)
        if errors:
            reason = "; ".join(f"{FIELD_TO_COLUMN.get(e.field, e.field)} {e.message}" for e in errors)
        if reason is None:
            assert item is not None  # validation gives the model whenever it finds no error
            items.append(item)
        else:
            rejects.append((record.line, reason))
        if len(items) + len(rejects) >= CHUNK:
            yield items, rejects
            items, rejects = [], []
    if items or rejects:
        yield items, rejects


def prepared_chunks(records: Iterable[CsvRecord], mapper: RowMapper | None) -> Iterator[tuple[Prepared, Rejects]]:
    """validated_chunks, each turned into response rows (the part of storing that needs no database)."""
    said = SaidBefore()
    for items, rejects in validated_chunks(records, mapper):
        yield prepare(items, said), rejects


Chunk = tuple[Prepared, Rejects, int | None]  # rows, refusals, and bytes of the file read so far


def _store(rt: Runtime, chunks: Iterable[Chunk], progress: Progress, size: int | None) -> ImportSummary:
    chunks = iter(chunks)
    first = next(chunks, None)  # a file that cannot be read fails here, before anything is stored
    if first is None:
        return ImportSummary()
    defer = _worth_deferring_indexes(rt, first, size)
    with deferred_indexes(rt.engine) if defer else nullcontext():
        return _store_all(rt, itertools.chain([first], chunks), progress)


def _worth_deferring_indexes(rt: Runtime, first: Chunk, size: int | None) -> bool:
    """Whether the file is big, and bigger than what is stored: building the customer index once
    at the end (over every row) then costs less than keeping it current row by row."""
    prepared, rejects, at = first
    if not size or not at:
        return False
    coming = size * (len(prepared.rows) + prepared.duplicates + len(rejects)) // at
    if coming < DEFER_INDEXES_MIN_ROWS:
        return False
    with read_scope(rt.engine) as s:
        stored = s.execute(select(func.max(Response.id))).scalar_one() or 0
    return coming >= stored


def _store_all(rt: Runtime, chunks: Iterable[Chunk], progress: Progress) -> ImportSummary:
    summary = ImportSummary()
    with StreamWriter(rt, rows_per_transaction=TRANSACTION_ROWS) as writer:
        for n, (prepared, rejects, at) in enumerate(_committing_on_failure(chunks, writer)):
            for line, reason in rejects:
                summary.reject(line, reason)
            result = writer.add(prepared)
            summary.accepted += result.accepted
            summary.duplicates += result.duplicates
            summary.followups_opened += result.opened
            summary.history += result.history
            progress(len(prepared.rows) + prepared.duplicates + len(rejects), at)
            if n % 10 == 9:
                gc.collect(1)
    return summary


def _committing_on_failure(chunks: Iterable, writer: StreamWriter) -> Iterator:
    """The chunks; should reading fail (bytes that are not UTF-8, a reader that died), what was
    stored before is committed first, so running the import again (fixed) only stores the rest."""
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except BaseException:
            writer.commit()
            raise
        yield chunk
