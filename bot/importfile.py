"""Opening a CSV file for a streaming import: decoded lazily, with the bytes read counted.

`npsbot import` never holds the file: the CSV reader pulls decoded text through a buffer, and the
progress bar follows the bytes consumed (the file's size is known, its row count is not).
"""

from __future__ import annotations

import io
from pathlib import Path


class _CountingRaw(io.RawIOBase):
    """A raw file that counts the bytes read through it."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close() below
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._file.readinto(buffer) or 0
        self.bytes_read += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # Some presets read the header rows twice (detection, then parsing): they seek back.
        pos = self._file.seek(offset, whence)
        self.bytes_read = pos
        return pos

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
        super().close()


class CsvFile:
    """A UTF-8 CSV file as a text stream (`text`), and how many of its bytes were read so far."""

    def __init__(self, path: Path) -> None:
        self.size = path.stat().st_size
        self._raw = _CountingRaw(path)
        # utf-8-sig drops a byte-order mark; newline="" is what the csv module asks for.
        self.text = io.TextIOWrapper(io.BufferedReader(self._raw, 1 << 16), encoding="utf-8-sig", newline="")

    @property
    def bytes_read(self) -> int:
        return self._raw.bytes_read

    def close(self) -> None:
        self.text.close()

    def __enter__(self) -> CsvFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
