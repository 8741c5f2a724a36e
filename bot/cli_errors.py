"""Start-up and CLI failures as one line saying what went wrong and how to fix it.

`npsbot` never shows a traceback for a mistake an operator can fix (port in use, database
unreachable or misspelled, unknown channel): `explain()` turns the exception into a sentence and
the CLI exits non-zero. Anything not recognised here is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from bot.errors import NpsError


def _where(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "the database"
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database}"
    return f"the database at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def explain(exc: BaseException, *, database_url: str = "", listen: str = "") -> str | None:
    """One line for a failure an operator can fix, or None when it is not one of those."""
    if isinstance(exc, NpsError):
        return exc.message
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (f"Cannot listen on {listen or 'the port'}: it is already in use. Stop the other process, "
                "or choose another port with --port or PORT.")
    if isinstance(exc, OSError) and exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
        return f"Cannot listen on {listen or 'that address'}: {exc.strerror}. Check --host/NPSBOT_HOST and --port/PORT."
    if isinstance(exc, OperationalError):
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0][:200]
        return (f"Cannot reach {_where(database_url)} ({reason}). Start it, or fix DATABASE_URL.")
    if isinstance(exc, NoSuchModuleError | ArgumentError | ModuleNotFoundError) and database_url:
        return (f"DATABASE_URL {database_url.split('://')[0]}://… is not a database npsbot can use "
                "(sqlite:///FILE or postgresql://user@host/db).")
    return None
