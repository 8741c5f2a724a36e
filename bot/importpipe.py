"""Two-process import: one process reads and validates the CSV, the other stores what it sends.

Parsing and validating a row costs about what storing it costs, so on two cores a large import
takes about half the time. The reader is a forked child (it inherits the open file, the records
iterator and the mapper, none of which pickle) that sends each chunk as plain tuples through a
pipe; the pipe's small buffer keeps at most a chunk or two in flight, so memory stays flat. The
rows are validated exactly as everywhere else (bot.ingest.validate_item); the storing side
rebuilds lightweight items with the same attributes and stores them through bot.ingest.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace

from bot.csvimport import CsvRecord, Rejects, RowMapper, validated_chunks

_CUSTOMER = ("id", "name", "email", "segment", "arr", "owner")


def worth_it() -> bool:
    """A second process pays only when a core is free for it; on a busy machine it costs more
    (pickling the rows across) than it saves."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores >= 2 and os.getloadavg()[0] <= cores - 1


def _pack(item) -> tuple:
    c = item.customer
    return (item.source, item.id, item.score, item.comment, item.submitted_at, item.tags,
            tuple(getattr(c, k) for k in _CUSTOMER) if c is not None else None)


def _unpack(row: tuple) -> SimpleNamespace:
    source, id_, score, comment, submitted_at, tags, customer = row
    return SimpleNamespace(source=source, id=id_, score=score, comment=comment, submitted_at=submitted_at, tags=tags,
                           customer=SimpleNamespace(**dict(zip(_CUSTOMER, customer, strict=True)))
                           if customer is not None else None)


def _reader(records: Iterable[CsvRecord], mapper: RowMapper, position: Callable[[], int] | None, pipe) -> None:
    try:
        for items, rejects in validated_chunks(records, mapper):
            pipe.send(("chunk", [_pack(i) for i in items], rejects, position() if position else None))
        pipe.send(("done", None, None, None))
    except BaseException as exc:  # noqa: BLE001 - handed to the storing process, which raises it
        pipe.send(("error", f"{type(exc).__name__}: {exc}", None, None))
        if isinstance(exc, UnicodeDecodeError):
            pipe.send(("decode", exc.args, None, None))
    finally:
        pipe.close()


def validated_in_child(records: Iterable[CsvRecord], mapper: RowMapper,
                       position: Callable[[], int] | None) -> Iterator[tuple[list, Rejects, int | None]]:
    """Chunks as bot.csvimport.validated_chunks makes them, made in a forked child process.

    Falls back to this process where fork is not available (Windows).
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        for items, rejects in validated_chunks(records, mapper):
            yield items, rejects, position() if position else None
        return
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_reader, args=(records, mapper, position, send), daemon=True)
    child.start()
    send.close()
    try:
        while True:
            try:
                kind, rows, rejects, at = receive.recv()
            except EOFError:
                raise RuntimeError("the CSV reader process ended unexpectedly") from None
            if kind == "done":
                return
            if kind == "error":
                try:
                    decode = receive.recv()
                except EOFError:
                    decode = None
                if decode and decode[0] == "decode":
                    raise UnicodeDecodeError(*decode[1])
                raise RuntimeError(f"reading the CSV failed: {rows}")
            yield [_unpack(r) for r in rows], rejects, at
    finally:
        receive.close()
        if child.is_alive():
            child.terminate()
        child.join()
