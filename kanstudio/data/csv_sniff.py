"""Guessing how a text table is written: encoding, separator, decimal mark, header.

Everything here looks at bytes or at the first few dozen lines only; the
full table is parsed afterwards by pandas with what was guessed
(csv_import.read_table).  Problems are DataError sentences naming the file.
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

from .errors import DataError

# a long text cell or a 20,000-column header is a line over the csv module's
# 128 KiB default; the file's size is already bounded when it is read
csv.field_size_limit(2**31 - 1)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Cell texts that mean "no value" (compared after strip + lower-case).
MISSING_TOKENS = frozenset({"", "nan", "-nan", "na", "n/a", "#n/a", "#na", "null", "none", "<na>", "-", "?",
                            ".", "missing"})
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'", "whitespace": "spaces"}
SAMPLE_LINES = 50
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?(?:inf|infinity|nan)$", re.I)
_COMMA_NUMBER = re.compile(r"^[-+]?\d*,\d+(?:[eE][-+]?\d+)?$")
_DOT_NUMBER = re.compile(r"^[-+]?\d*\.\d+(?:[eE][-+]?\d+)?$")
_EXCEL_SEP_LINE = re.compile(r"^sep=(.)[\r\n]*$")
# Files people hand us by mistake, recognised by their first bytes.
_MAGIC = [(b"PK\x03\x04", "an Excel workbook or a zip archive"), (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook"),
          (b"\x1f\x8b", "a gzip-compressed file"), (b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"),
          (b"\xff\xd8\xff", "a JPEG image"), (b"\x93NUMPY", "a NumPy array file"), (b"\x89HDF", "an HDF5 file")]


def decode_text(data: bytes, name: str) -> tuple:
    """(text, encoding, notes): UTF-8 (BOM or not), UTF-16 with BOM, else Latin-1."""
    if not data.strip():
        raise DataError(f"{name} is empty")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DataError(f"{name} is {what}, not a text CSV file; export the table as CSV first")
    notes = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):          # Excel's "Unicode text" export
        try:
            return data.decode("utf-16"), "utf-16", ["read as UTF-16 text"]
        except UnicodeDecodeError:
            raise DataError(f"{name} is not a text CSV file (it looks like broken UTF-16)") from None
    if b"\x00" in data[:65536]:
        raise DataError(f"{name} is not a text CSV file (it contains binary data)")
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:        # what Excel writes on Windows: '€' and '–' live in 0x80-0x9F there
            text, encoding = data.decode("cp1252"), "cp1252"
            notes.append("read as Windows-1252 text (the file is not valid UTF-8)")
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
            notes.append("read as Latin-1 (the file is not valid UTF-8)")
    head = text[:65536]
    control = sum(1 for ch in head if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or 0x7F <= ord(ch) < 0xA0)
    if control > 0.01 * len(head):                           # Latin-1 decodes anything: look at what came out
        raise DataError(f"{name} is not a text CSV file (it contains binary data)")
    return text, encoding, notes


@dataclass
class Layout:
    """What the sniffer found: where the header and data lines are, and how cells are written."""
    separator: str                     # ",", ";", "\t", "|" or "whitespace"
    decimal: str                       # "." or ","
    names: Optional[list]              # header cells (stripped), None when the file has no header row
    data_start: int                    # index (in split_lines(text)) of the first line after the header
    notes: list = field(default_factory=list)


def split_lines(text: str) -> list:
    """The text's lines, broken at CR, LF and CRLF only: str.splitlines() also breaks
    at form feeds, vertical tabs and U+2028 etc., which may sit inside a cell."""
    lines = _LINE_BREAK.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def split_line(line: str, sep: str) -> list:
    if sep == "whitespace":
        return line.split()
    return [c.strip() for c in next(csv.reader([line], delimiter=sep, skipinitialspace=True), [])]


def is_number(cell: str, decimal: str = ".") -> bool:
    cell = cell.strip()
    if decimal == "," and _COMMA_NUMBER.match(cell):
        return True
    return bool(_NUMBER.match(cell))


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_TOKENS


def sniff_layout(lines: Sequence[str], name: str) -> Layout:
    """Look at the first content lines of ``lines`` (all lines of the file) and decide the layout."""
    notes, forced = [], None
    content = []                       # (index, line) of non-blank, non-comment lines
    comment_before = None              # the last '#' line before the first content line (numpy.savetxt headers)
    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s:
            continue
        excel = _EXCEL_SEP_LINE.match(ln) if not content and forced is None else None
        if excel:                      # Excel's "sep=;" first line names the separator
            forced = {" ": "whitespace"}.get(excel.group(1), excel.group(1))
            continue
        if s.startswith("#"):
            if not content:
                comment_before = s.lstrip("#").strip()
            continue
        content.append((i, ln))
        if len(content) > SAMPLE_LINES:
            break
    if not content:
        raise DataError(f"{name} is empty" + (" (it holds only comment lines)" if comment_before else ""))
    sample = [ln for _, ln in content]
    sep = forced or _choose_separator(sample)
    rows = [split_line(ln, sep) for ln in sample]
    decimal = _choose_decimal(rows[1:] or rows)     # with ',' separators only quoted cells can say "1,5"
    if decimal == ",":
        notes.append("decimal commas read as decimal points")
    if sep == "whitespace":
        notes.append("columns separated by spaces")
    first_idx = content[0][0]
    if _looks_like_header(rows, decimal):
        return Layout(sep, decimal, rows[0], first_idx + 1, notes)
    if comment_before is not None:     # '# x y f' above numeric rows: use it as the header
        cells = split_line(comment_before, sep)
        if len(cells) == len(rows[0]) and not any(is_number(c, decimal) for c in cells):
            notes.append(f"used the comment line '# {comment_before}' as the header")
            return Layout(sep, decimal, cells, first_idx, notes)
    names = [f"x{j + 1}" for j in range(len(rows[0]))]
    notes.append("no header row found: columns named " + ", ".join(names[:12]) + (" …" if len(names) > 12 else ""))
    return Layout(sep, decimal, None, first_idx, notes)


def _choose_separator(sample: Sequence[str]) -> str:
    """The separator giving a consistent column count (>= 2) with the most number-like cells."""
    best, best_key = ",", None
    for priority, sep in enumerate([",", ";", "\t", "|", "whitespace"]):
        counts = [len(split_line(ln, sep)) for ln in sample]
        mode = Counter(counts[1:] or counts).most_common(1)[0][0]
        if mode < 2 or counts[0] != mode:
            continue
        consistency = sum(c == mode for c in counts) / len(counts)
        if consistency < 0.9:
            continue
        cells = [c for ln in (sample[1:] or sample) for c in split_line(ln, sep)]
        dec = "," if sep != "," else "."
        numeric = sum(is_number(c, dec) or is_missing(c) for c in cells) / max(1, len(cells))
        key = (round(numeric, 2), -priority)
        if best_key is None or key > best_key:
            best, best_key = sep, key
    return best


def _choose_decimal(rows: Sequence[Sequence[str]]) -> str:
    cells = [c for r in rows for c in r]
    commas = sum(bool(_COMMA_NUMBER.match(c)) for c in cells)
    dots = sum(bool(_DOT_NUMBER.match(c)) for c in cells)
    return "," if commas > dots else "."


def _looks_like_header(rows: Sequence[Sequence[str]], decimal: str) -> bool:
    """A first row with a text cell above numbers, or made only of text, is a header."""
    first = rows[0]
    text_cells = [j for j, c in enumerate(first) if not is_number(c, decimal) and not is_missing(c)]
    if not text_cells:
        return False
    if len(rows) == 1 or len(text_cells) == len(first):
        return True
    below = rows[1:]
    for j in text_cells:
        col = [r[j] for r in below if j < len(r) and not is_missing(r[j])]
        if col and sum(is_number(c, decimal) for c in col) >= 0.5 * len(col):
            return True
    return False
