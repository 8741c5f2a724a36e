"""Two-process import: one process reads, validates and prepares the CSV's rows, the other stores them.

Parsing, validating and turning a row into a response row costs about what storing it costs, so
on two cores a large import takes about half the time. The reader is a forked child (it inherits
the open file, the records iterator and the mapper, none of which pickle) that sends each chunk as
bot.ingest.store.Prepared (plain lists, a column each) through a pipe; the pipe's small buffer keeps
at most a chunk or two in flight, so memory stays flat. The rows are validated exactly as in the
one-process import (bot.csvimport.validated_chunks) and prepared by the same function the
webhooks' store step uses.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator

from bot.csvimport import CsvRecord, Rejects, RowMapper, prepared_chunks
from bot.ingest.store import Prepared


def worth_it() -> bool:
    """A second process needs a second core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores >= 2


def _widen(pipe) -> None:
    """Let the pipe hold a chunk or two (1 MB; a chunk pickles to about 400 KB; Linux's default is
    64 KB), so the reader hands one over and goes on with the next while this process is still
    storing the last: without it each side waits for the other at every chunk."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):  # not Linux, or a lower pipe-max-size: still correct
        pass


def _reader(records: Iterable[CsvRecord], mapper: RowMapper | None, position: Callable[[], int] | None, pipe) -> None:
    try:
        for n, (prepared, rejects) in enumerate(prepared_chunks(records, mapper)):
            pipe.send(("chunk", prepared, rejects, position() if position else None))
            if n % 10 == 9:  # the collector is off here too (inherited): young garbage, once in a while
                gc.collect(1)
        pipe.send(("done", None, None, None))
    except BaseException as exc:  # noqa: BLE001 - handed to the storing process, which raises it
        pipe.send(("error", f"{type(exc).__name__}: {exc}", None, None))
        if isinstance(exc, UnicodeDecodeError):
            pipe.send(("decode", exc.args, None, None))
    finally:
        pipe.close()


def prepared_in_child(records: Iterable[CsvRecord], mapper: RowMapper | None,
                      position: Callable[[], int] | None) -> Iterator[tuple[Prepared, Rejects, int | None]]:
    """Chunks as bot.csvimport.prepared_chunks makes them, made in a forked child process.

    Falls back to this process where fork is not available (Windows).
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        for prepared, rejects in prepared_chunks(records, mapper):
            yield prepared, rejects, position() if position else None
        return
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    _widen(send)
    child = context.Process(target=_reader, args=(records, mapper, position, send), daemon=True)
    child.start()
    send.close()
    try:
        while True:
            try:
                kind, prepared, rejects, at = receive.recv()
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
                raise RuntimeError(f"reading the CSV failed: {prepared}")
            yield prepared, rejects, at
    finally:
        receive.close()
        if child.is_alive():
            child.terminate()
        child.join()
