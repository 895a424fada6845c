"""Strict CSV (RFC 4180 quoting), read record by record from an iterable of lines.

A quote left open, text after a closing quote, a row with the wrong number of fields, or two
columns of one name are refused with their line or column, never folded into a neighbouring
field. Lines are consumed lazily and only the lines of the record being read are kept (for the
message about it), so a large file can be streamed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from ..exceptions import DatasetValidationError
from .formats import refuse_duplicate_columns

_HINT_CSV = (
    "Check that every row has as many fields as the header and that text with commas, quotes or line breaks "
    'is in double quotes, with each quote inside it doubled ("").'
)
_HINT_QUOTE = (
    "Close the quote on that line, or double a quote that belongs to the text (\"\" inside a quoted field); "
    "a field that holds commas, quotes or line breaks must start and end with a double quote."
)
_CSV_FIELD_LIMIT = 2**31 - 1  # long documents are fine; the csv module's default stops at 128 KiB


def csv_rows(lines: Iterable[str], source: str) -> tuple[list[str], Iterator[list[str]]]:
    """The header (checked at once) and the data rows (checked as they are read); blank lines are skipped.

    Raises DatasetValidationError for no header, a column without a name, a name used twice, a row with
    another number of fields than the header, or broken quoting, naming the line.
    """
    records = _csv_records(lines, source)
    first = next(records, None)
    if first is None:
        raise DatasetValidationError(f"{source} has no rows.", "Add a header row and at least one row of data.")
    header = first[1]
    unnamed = [str(number) for number, name in enumerate(header, start=1) if not name.strip()]
    if unnamed:
        raise DatasetValidationError(
            f"{source}: the header gives no name to column(s) {', '.join(unnamed)} (header: {', '.join(header)}).",
            "Give every column a name in the first row, and remove a trailing comma if the rows have none.",
        )
    refuse_duplicate_columns(header, f"{source}: the header names")

    def rows() -> Iterator[list[str]]:
        for line, record in records:
            if len(record) != len(header):
                raise DatasetValidationError(
                    f"{source}, line {line}: this CSV row has {len(record)} field(s), but the header has "
                    f"{len(header)} ({', '.join(header)}).",
                    _HINT_CSV,
                )
            yield record

    return header, rows()


def _csv_records(lines: Iterable[str], source: str) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, its fields) for each non-blank record; a quoting fault raises with its line."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    window: list[str] = []  # the lines of the record being read (the reader never reads past a record's end)

    def feed() -> Iterator[str]:
        for line in lines:
            window.append(line)
            yield line + "\n"

    reader = csv.reader(feed(), strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise _csv_error("\n".join(window), start, reader.line_num, source, err) from None
        window.clear()
        if record:  # a blank line reads as []
            yield start, record
        start = reader.line_num + 1


def _csv_error(text: str, start: int, end: int, source: str, err: csv.Error) -> DatasetValidationError:
    """The csv module's complaint about ``text`` (lines ``start``..``end``) in words, at the line where the quoting
    went wrong."""
    fault = _quote_fault(text, start)
    if fault is None and "new-line character" in str(err):
        return DatasetValidationError(
            f"{source}, line {end}: a carriage return (\\r) inside a field that is not in double quotes.",
            "Put that field in double quotes, or save the file with \\n or \\r\\n line ends (not \\r alone).",
        )
    if fault is None:
        return DatasetValidationError(f"{source}, line {end}: cannot parse the CSV ({err}).", _HINT_CSV)
    opened, trailing = fault
    if trailing is None:
        what = "a quoted field opened here is never closed (the file ends inside it)"
    elif trailing > opened:
        what = (
            f"a quoted field opened here is never closed: the double quote on line {trailing} ends it instead, "
            "and is followed by more text"
        )
    else:
        what = "text follows the double quote that closes a quoted field"
    return DatasetValidationError(f"{source}, line {opened}: {what}.", _HINT_QUOTE)


def _quote_fault(text: str, line: int) -> tuple[int, int | None] | None:
    """Scan one CSV record from ``line``: (line its faulty quoted field opens, line where text follows the
    closing quote, or None when the quote is never closed); None when the quoting is sound."""
    state, opened, index = "start", line, 0
    while index < len(text):
        char = text[index]
        if state == "quoted":
            if char == '"' and text.startswith('"', index + 1):
                index += 1  # "" is a quote inside the field
            elif char == '"':
                state = "closed"
        elif char == '"' and state == "start":
            state, opened = "quoted", line
        elif state == "closed" and char not in ",\r\n":
            return opened, line
        elif char in ",\n":
            state = "start"
        elif state == "start":
            state = "unquoted"  # a quote inside an unquoted field is text, as every CSV reader takes it
        line += char == "\n"
        index += 1
    return (opened, None) if state == "quoted" else None
