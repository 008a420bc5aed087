"""Records of a CSV file, counted and split by us, not by DuckDB's reader.

Two parts:

:class:`RecordScanner`
    fed the file's bytes once (with the content hash), counts physical lines
    and notes anything that makes a file unsafe for DuckDB's fast reader:
    mixed or lone-CR line ends, a quoted value spanning lines, a blank line,
    a byte-order mark after the start, a NUL byte, invalid UTF-8, or a quote
    left open at the end. A file with none of these has one record per line,
    so its record count is known before DuckDB reads it, and the fast path is
    trusted only when DuckDB's count agrees.

:func:`split_records`
    the slow path: splits a file into records itself, so one bad record never
    stops the others. Every physical line ends up in exactly one record:

    * A line is a record unless it leaves a quote open; then the record goes
      on over the following lines until the quotes balance, for at most
      ``max_lines`` lines and ``max_bytes`` bytes.
    * A record that parses (RFC 4180) into the header's number of fields, is
      valid UTF-8, has no NUL byte and is within ``max_bytes`` is good.
    * Otherwise it is broken and quarantined. If a broken record spanned
      several lines, only its first line is quarantined and reading picks up
      again at the next line: a stray quote costs one line, never the rest of
      the file, and a good row after it is still loaded.
    * Lines end at LF, CRLF or a lone CR; a byte-order mark at the start of a
      line is dropped (it is an encoding marker, not data).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

BOM = b"\xef\xbb\xbf"
MAX_RECORD_BYTES = 1 << 20  # a record longer than this is quarantined, not loaded
MAX_RECORD_LINES = 100  # a quoted value may span at most this many lines
RAW_TEXT_LIMIT = 2000  # characters of a quarantined record's raw text kept

# One RFC 4180 record on one line: DuckDB's reader is lenient with a quote inside an
# unquoted value (it keeps it), so a line with quotes must match this for the fast path.
_FIELD = rb'(?:[^",\r\n]*|"(?:[^"]|"")*")'
_QUOTED_RECORD = re.compile(_FIELD + rb"(?:," + _FIELD + rb")*\r?")


@dataclass
class RecordScanner:
    """Counts lines and notes what would make DuckDB's reader unsafe; fed chunk by chunk."""

    size: int = 0
    lf: int = 0
    crlf: int = 0
    cr: int = 0
    in_quote: bool = False
    quoted_line_end: bool = False
    blank_line: bool = False
    bom_inside: bool = False
    nul: bool = False
    utf8_error: bool = False
    stray_quote: bool = False
    long_line: bool = False
    _partial: bytes = b""  # the current line so far, while it may still hold a quote
    _tail: bytes = b""
    _decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")())

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        # Every test below is a search or count in C; each copies at most a few bytes of the
        # chunk (4 MB), so the scan keeps up with reading the file.
        edge = self._tail + chunk[:2]  # patterns that straddle two chunks
        self.lf += chunk.count(b"\n")
        has_cr = b"\r" in chunk
        if has_cr:
            self.cr += chunk.count(b"\r")
            self.crlf += chunk.count(b"\r\n")
        self.crlf += self._tail.endswith(b"\r") and chunk.startswith(b"\n")
        if b"\n\n" in chunk or (has_cr and b"\n\r\n" in chunk) or b"\n\n" in edge or b"\n\r\n" in edge:
            self.blank_line = True
        if b"\x00" in chunk:
            self.nul = True
        if not chunk.isascii() or self._decoder.getstate()[0]:
            across = edge.find(BOM)  # a BOM split between chunks, unless it is the file's first bytes
            if chunk.find(BOM, 0 if self.size else 1) >= 0 or (across >= 0 and self.size - len(self._tail) + across > 0):
                self.bom_inside = True
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                self.utf8_error = True
                self._decoder.reset()
        self._check_quoted_lines(chunk)
        if b'"' in chunk:
            segments = chunk.split(b'"')
            for i, segment in enumerate(segments):
                inside = self.in_quote != bool(i % 2)
                if inside and (b"\n" in segment or b"\r" in segment):
                    self.quoted_line_end = True
                    break
            self.in_quote = self.in_quote != bool((len(segments) - 1) % 2)
        elif self.in_quote and (b"\n" in chunk or b"\r" in chunk):
            self.quoted_line_end = True
        self._tail = (self._tail + chunk[-2:])[-2:]
        self.size += len(chunk)

    def _check_quoted_lines(self, chunk: bytes, final: bool = False) -> None:
        """Lines that hold a quote must be well-formed records (quotes only around whole values)."""
        if self.stray_quote or self.long_line:
            return
        cut = chunk.rfind(b"\n") + 1
        if not cut and not final:
            self._partial += chunk
            if len(self._partial) > MAX_RECORD_BYTES:
                self.long_line, self._partial = True, b""
            return
        if final:
            cut = len(chunk)
        if b'"' in self._partial or chunk.find(b'"', 0, cut) >= 0:  # else no line to check: copy nothing
            for line in (self._partial + chunk[:cut]).split(b"\n"):
                if b'"' in line and not _QUOTED_RECORD.fullmatch(line):
                    self.stray_quote = True
                    break
        self._partial = chunk[cut:]

    def finish(self) -> None:
        self._check_quoted_lines(b"", final=True)
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            self.utf8_error = True

    @property
    def lines(self) -> int:
        """Physical lines, counting a last line without a line end (LF-terminated files)."""
        return self.lf + (1 if self.size and not self._tail.endswith(b"\n") else 0)

    @property
    def records(self) -> int:
        """Data records when the file is fast-path safe: one per line after the header."""
        return max(self.lines - 1, 0)

    def slow_path_reason(self) -> str | None:
        """Why DuckDB's reader cannot be trusted with this file, or None."""
        if self.cr != self.crlf or (self.crlf and self.crlf != self.lf):
            return "mixed line ends (LF, CRLF or lone CR in one file)"
        if self.in_quote:
            return "a quote is still open at the end of the file"
        if self.quoted_line_end:
            return "a quoted value spans lines"
        if self.stray_quote:
            return "a quote that does not enclose a whole value (a stray quote)"
        if self.long_line:
            return f"a line longer than {MAX_RECORD_BYTES:,} bytes"
        if self.blank_line:
            return "a blank line"
        if self.bom_inside:
            return "a byte-order mark after the start of the file"
        if self.nul:
            return "a NUL byte"
        if self.utf8_error:
            return "bytes that are not UTF-8"
        return None


@dataclass
class Record:
    """One record of a file: lines ``line``..``end_line`` (1 is the header)."""

    line: int
    end_line: int
    fields: list[str] | None  # None: broken
    raw: bytes
    problem: str | None = None
    column: str | None = None

    @property
    def raw_text(self) -> str:
        """The record as it arrived: invalid UTF-8 kept as escaped bytes (``\\xff``), cut when very long."""
        text = self.raw.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
        if len(text) > RAW_TEXT_LIMIT:
            return text[:RAW_TEXT_LIMIT] + f"... [{len(self.raw):,} bytes in all; cut]"
        return text

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.end_line == self.line else f"lines {self.line}-{self.end_line}"


def parse_fields(text: str) -> tuple[list[str], str | None, int | None]:
    """Split one record (no final line end) into fields, RFC 4180.

    Returns ``(fields, problem, field_index)``; ``problem`` is None when the record parses.
    """
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            j, parts = i + 1, []
            while True:
                k = text.find('"', j)
                if k < 0:
                    return fields, "a quoted value is not closed", len(fields)
                parts.append(text[j:k])
                if text.startswith('"', k + 1):
                    parts.append('"')
                    j = k + 2
                    continue
                j = k + 1
                break
            fields.append("".join(parts))
            if j == n:
                return fields, None, None
            if text[j] != ",":
                return fields, "text after a closing quote (a stray quote)", len(fields) - 1
            i = j + 1
            if i == n:
                fields.append("")
                return fields, None, None
        else:
            k = text.find(",", i)
            value = text[i:] if k < 0 else text[i:k]
            if '"' in value:
                return fields, "a quote inside an unquoted value (a stray quote)", len(fields)
            fields.append(value)
            if k < 0:
                return fields, None, None
            i = k + 1


def _column_name(header: list[str], index: int | None) -> str | None:
    if index is None:
        return None
    return header[index] if index < len(header) else f"field {index + 1} (beyond the header)"


def _diagnose(raw: bytes, header: list[str], max_bytes: int) -> tuple[list[str] | None, str | None, str | None]:
    """Fields of a candidate record, or why it is broken and in which column."""
    body = raw.rstrip(b"\r\n")
    text = body.decode("utf-8", errors="surrogateescape")
    fields, problem, index = parse_fields(text)
    if len(raw) > max_bytes:
        longest = max(range(len(fields)), key=lambda i: len(fields[i])) if fields else None
        return None, f"the record is {len(raw):,} bytes, over the limit of {max_bytes:,}", _column_name(header, longest)
    if problem:
        return None, problem, _column_name(header, index)
    for i, value in enumerate(fields):
        if any("\udc80" <= ch <= "\udcff" for ch in value):
            return None, "bytes that are not UTF-8 (kept escaped in the raw text)", _column_name(header, i)
        if "\x00" in value:
            return None, "a NUL byte in the value", _column_name(header, i)
    if len(fields) != len(header):
        index = len(fields) if len(fields) < len(header) else len(header)
        return None, f"{len(fields)} fields where the header has {len(header)}", _column_name(header, index)
    return fields, None, None


def split_records(
    data: bytes,
    header: list[str],
    *,
    max_bytes: int = MAX_RECORD_BYTES,
    max_lines: int = MAX_RECORD_LINES,
) -> Iterator[Record]:
    """Every record after the header line, good or broken, in file order (see the module doc)."""
    lines = data.splitlines(keepends=True)
    i, total = 1, len(lines)
    while i < total:
        first = lines[i]
        if first.startswith(BOM):
            first = first[len(BOM):]
        if not first.strip(b"\r\n \t"):
            yield Record(i + 1, i + 1, None, first, "a blank line")
            i += 1
            continue
        j, candidate, quotes = i, first, first.count(b'"')
        # A quote left open carries the record onto the next line (bounded). Each line is
        # looked at again at most once more, so a file of stray quotes stays linear.
        while quotes % 2 and j + 1 < total and j + 1 - i < max_lines and len(candidate) <= max_bytes:
            j += 1
            candidate += lines[j]
            quotes += lines[j].count(b'"')
        fields, problem, column = _diagnose(candidate, header, max_bytes)
        if j > i and fields is None:
            # A broken multi-line record: quarantine its first line only and read on.
            j, candidate = i, first
            fields, problem, column = _diagnose(first, header, max_bytes)
            if problem == "a quoted value is not closed":
                problem = f"a quoted value is not closed within {max_lines} lines or {max_bytes:,} bytes"
        yield Record(i + 1, j + 1, fields, candidate, problem, column)
        i = j + 1


def normalised_csv(records: list[Record]) -> bytes:
    """The good records as a clean CSV (LF, UTF-8), each prefixed by its first and last line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in records:
        writer.writerow([r.line, r.end_line, *r.fields])
    return out.getvalue().encode("utf-8")
