"""Bytes of a source file as numbered records, whatever tool exported them.

Everyday exports carry a byte-order mark (Excel, Notepad, PowerShell write UTF-16 with one), mix
newline conventions (a file edited on Windows and on a Mac), arrive gzip-compressed and cut
short, or hold a single line of many megabytes. Each of these becomes either a numbered record
or a numbered problem here, so the reader above can quarantine it and go on: nothing is merged,
nothing disappears, and nothing crashes.
"""

from __future__ import annotations

import codecs
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

RAW_EXCERPT = 200  # characters of a bad record kept in the quarantine table
MAX_RECORD_BYTES = 8 * 1024 * 1024  # a longer line is quarantined unread (ingest caps prompts far below)
_CHUNK = 1024 * 1024
# Longest marks first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# A lone CR ends a line too (classic Mac exports, or one edited there); JSON and CSV text cannot
# hold a raw CR outside a quoted CSV field, which the CSV reader handles on its own.
_LONE_CR = re.compile(rb"\r(?!\n)")
READ_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


class UnreadableSource(ValueError):
    """The file cannot be decoded at all (declared encoding violated, not gzip at all)."""


@dataclass
class Record:
    """One physical record: its first line number and its bytes, or why it could not be read."""

    line: int
    data: bytes | None
    problem: str | None = None


class _GzipUpToTheCut(io.RawIOBase):
    """gzip members decompressed as far as the bytes go. The gzip module drops the last buffer it
    had decompressed when the stream breaks off; here every byte before the cut is delivered, and
    only then does a read raise EOFError."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._member = zlib.decompressobj(wbits=31)
        self._fed = False  # whether the current member has seen any bytes
        self._pending = b""

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        chunk = self._raw.read(_CHUNK)
        if not chunk:
            if self._member.eof or not self._fed:
                return False
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        self._fed = True
        self._pending = self._member.decompress(chunk)
        while self._member.eof and self._member.unused_data:  # concatenated members (`cat a.gz b.gz`)
            rest = self._member.unused_data
            self._member = zlib.decompressobj(wbits=31)
            self._pending += self._member.decompress(rest)
        if self._member.eof:
            self._member, self._fed = zlib.decompressobj(wbits=31), False
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if not self._fill():
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_binary(path: Path) -> BinaryIO:
    if path.suffix.lower() == ".gz":
        return io.BufferedReader(_GzipUpToTheCut(path.open("rb")), _CHUNK)  # type: ignore[return-value]
    return path.open("rb")


def _sniff_encoding(head: bytes) -> tuple[str, int]:
    """(encoding, length of its byte-order mark); UTF-8 without a mark when there is none."""
    for mark, encoding in _BOMS:
        if head.startswith(mark):
            return encoding, len(mark)
    return "utf-8", 0


def utf8_stream(path: Path) -> BinaryIO:
    """The file's bytes as UTF-8 without a byte-order mark. UTF-16/32 files (recognised by their
    mark) are decoded whole and re-encoded; a file that breaks its own mark's encoding is an
    UnreadableSource naming the byte offset."""
    handle = open_binary(path)
    try:
        head = handle.peek(4)[:4]  # type: ignore[attr-defined]
    except READ_ERRORS as exc:
        handle.close()
        raise UnreadableSource(f"cannot read: {exc}") from None
    encoding, mark = _sniff_encoding(head)
    if not mark and len(head) == 4 and (head[1::2] == b"\0\0" or head[0::2] == b"\0\0") and head.count(0) == 2:
        handle.close()
        raise UnreadableSource("looks like UTF-16 without a byte-order mark; save it as UTF-8 (or UTF-16 with a mark)")
    handle.read(mark)
    if encoding == "utf-8":
        return handle
    with handle:
        try:
            raw = handle.read()
        except READ_ERRORS as exc:
            raise UnreadableSource(f"cannot read: {exc}") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableSource(f"invalid {encoding.upper()} at byte {exc.start + mark} (the file starts "
                               f"with a {encoding.upper()} byte-order mark)") from None  # fmt: skip
    return io.BytesIO(text.encode("utf-8", errors="surrogatepass"))


def _skip_rest_of_line(handle: BinaryIO) -> int:
    skipped = 0
    while True:
        chunk = handle.readline(_CHUNK)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def records(path: Path, limit: int = MAX_RECORD_BYTES) -> Iterator[Record]:
    """Non-blank lines of a text file, numbered as an editor numbers them (LF, CRLF and a lone CR
    each end a line). A line over `limit` bytes, or the point where a compressed file breaks
    off, is a Record with a problem instead of bytes; reading goes on past an overlong line."""
    number = 0
    try:
        with utf8_stream(path) as handle:
            while True:
                raw = handle.readline(limit + 1)
                if not raw:
                    return
                if len(raw) > limit and not raw.endswith(b"\n"):
                    size = len(raw) + _skip_rest_of_line(handle)
                    number += 1
                    yield Record(number, None, f"line of {size:,} bytes exceeds the {limit:,}-byte limit")
                    continue
                for part in _LONE_CR.split(raw):
                    number += 1
                    if part.strip():
                        yield Record(number, part.removesuffix(b"\n").removesuffix(b"\r"))
    except READ_ERRORS as exc:
        yield Record(number + 1, None, f"file breaks off after line {number}; the rest is lost ({exc})")
