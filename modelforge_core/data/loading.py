"""Read a dataset from a local file or the Hugging Face Hub into a ``datasets.Dataset``.

JSON Lines, JSON and CSV files are read and parsed here first, so that a malformed line, bytes
that are not UTF-8, or a value whose type changes between rows are reported with their line or
row number rather than as an Arrow stack trace. CSV is read strictly (RFC 4180 quoting): a quote
left open, text after a closing quote, a row with the wrong number of fields, or two columns of
one name are refused with their line or column, never folded into a neighbouring field.
"""

from __future__ import annotations

import csv
import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetValidationError
from ..hub_ids import looks_like_hub_id
from ..settings import is_offline
from .formats import refuse_duplicate_columns

if TYPE_CHECKING:
    import datasets

SUPPORTED_EXTENSIONS = (".jsonl", ".json", ".csv", ".parquet")

_HINT_EXTENSIONS = (
    "Give a path to a .jsonl, .json (a list of objects), .csv or .parquet file, "
    "or a Hugging Face dataset id such as 'org/name'."
)
_HINT_UTF8 = "Save the file as UTF-8 (in most editors: Save As > Encoding > UTF-8) and load it again."
_HINT_CSV = (
    "Check that every row has as many fields as the header and that text with commas, quotes or line breaks "
    'is in double quotes, with each quote inside it doubled ("").'
)
_HINT_QUOTE = (
    "Close the quote on that line, or double a quote that belongs to the text (\"\" inside a quoted field); "
    "a field that holds commas, quotes or line breaks must start and end with a double quote."
)
_CSV_FIELD_LIMIT = 2**31 - 1  # long documents are fine; the csv module's default stops at 128 KiB


def load_dataset_source(source: str, split: str = "train") -> datasets.Dataset:
    """A local file (.jsonl, .json list of objects, .csv, .parquet) or a Hugging Face dataset id.

    Raises DatasetValidationError when the file is missing, unreadable, malformed or empty, or the
    Hub dataset cannot be reached (offline, not found, no access).
    """
    source = str(source).strip()
    path = Path(source).expanduser()
    if not source:
        raise DatasetValidationError("No dataset given.", _HINT_EXTENSIONS)
    unreachable = _unreachable_path_error(path, source)
    if unreachable is not None:
        raise unreachable
    if path.exists():
        return _load_file(path, source)
    if looks_like_hub_id(source):
        return _load_hub(source, split)
    raise DatasetValidationError(f"Dataset file not found: {source}.", _HINT_EXTENSIONS)


def _unreachable_path_error(path: Path, source: str) -> DatasetValidationError | None:
    """Why a path that is there cannot be opened (a symbolic link loop, a dangling link, no permission), else None."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return DatasetValidationError(
                f"{source}: the path runs into a symbolic link loop (links that lead to each other, never to a file).",
                "Point the link at the dataset file itself (e.g. ln -sfn /path/to/data.jsonl <link>), "
                "or give the file's own path.",
            )
        if os.path.islink(path):
            return DatasetValidationError(
                f"{source} is a symbolic link to {os.readlink(path)}, which does not exist (a dangling link).",
                "Point the link at the dataset file (it may have been moved or deleted), or give the file's own path.",
            )
        if err.errno in (errno.EACCES, errno.EPERM):
            return DatasetValidationError(
                f"{source} cannot be reached: permission denied.",
                "Make the file and its folders readable by this user.",
            )
    return None


def _load_file(path: Path, source: str) -> datasets.Dataset:
    if path.is_dir():
        raise DatasetValidationError(f"{source} is a folder, not a dataset file.", _HINT_EXTENSIONS)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DatasetValidationError(
            f"{source}: unsupported file type '{suffix or '(none)'}'; expected one of "
            f"{', '.join(SUPPORTED_EXTENSIONS)}.",
            "Convert the file to JSON Lines (.jsonl, one JSON object per line) or CSV with a header row.",
        )
    if suffix == ".parquet":
        dataset = _read_parquet(path, source)
    elif suffix == ".csv":
        dataset = _read_csv(path, source)
    else:
        rows = _read_json(path, source) if suffix == ".json" else _read_jsonl(_text_lines(path, source), source)
        dataset = _rows_to_dataset(rows, source)
    if len(dataset) == 0:
        raise DatasetValidationError(f"{source} has no rows.", "Add at least one row of data to the file.")
    return dataset


def _text_lines(path: Path, source: str) -> list[str]:
    """The file's lines decoded as UTF-8; raises with the first line that is not."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DatasetValidationError(
            f"{source} cannot be read ({err.strerror or err}).", "Check that the file exists and is readable."
        ) from None
    lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as err:
            raise DatasetValidationError(
                f"{source}, line {number}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1}).",
                _HINT_UTF8,
            ) from None
    return lines


def _read_jsonl(lines: list[str], source: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number} (row {len(rows) + 1})"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetValidationError(
                f"{where}: not valid JSON ({err.msg} at column {err.colno}).",
                "Each line must be one complete JSON object, e.g. "
                '{"instruction": "...", "output": "..."}; check quotes, commas and brackets on that line.',
            ) from None
        if not isinstance(record, dict):
            raise DatasetValidationError(
                f"{where}: expected a JSON object {{...}}, got {type_in_words(record)}.",
                'Each line must be one JSON object with named fields, e.g. {"input": "...", "output": "..."}.',
            )
        rows.append(record)
    return rows


def _read_json(path: Path, source: str) -> list[dict[str, Any]]:
    lines = _text_lines(path, source)
    try:
        data = json.loads("\n".join(lines))
    except json.JSONDecodeError as err:
        if err.msg == "Extra data":  # JSON Lines saved as .json: read it as such.
            return _read_jsonl(lines, source)
        raise DatasetValidationError(
            f"{source}, line {err.lineno}: not valid JSON ({err.msg} at column {err.colno}).",
            "A .json dataset must be one JSON list of objects: [{...}, {...}].",
        ) from None
    if not isinstance(data, list):
        raise DatasetValidationError(
            f"{source}: expected a JSON list of objects [{{...}}, ...], got {type_in_words(data)}.",
            "Put the rows in a top-level list, or save them as JSON Lines (.jsonl), one object per line.",
        )
    for number, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            raise DatasetValidationError(
                f"{source}, row {number}: expected a JSON object {{...}}, got {type_in_words(record)}.",
                "Every item of the list must be an object with named fields.",
            )
    return data


def _read_csv(path: Path, source: str) -> datasets.Dataset:
    """Strict CSV: a header row naming each column once, then rows with as many fields; blank lines are skipped."""
    import datasets

    records = _csv_records(_text_lines(path, source), source)
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
    rows = []
    for line, record in records:
        if len(record) != len(header):
            raise DatasetValidationError(
                f"{source}, line {line}: this CSV row has {len(record)} field(s), but the header has "
                f"{len(header)} ({', '.join(header)}).",
                _HINT_CSV,
            )
        rows.append(record)
    columns = list(zip(*rows)) if rows else [() for _ in header]
    return datasets.Dataset.from_dict({name: list(values) for name, values in zip(header, columns)})


def _csv_records(lines: list[str], source: str) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, its fields) for each non-blank record; a quoting fault raises with its line."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    reader = csv.reader((line + "\n" for line in lines), strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise _csv_error(lines, start, reader.line_num, source, err) from None
        if record:  # a blank line reads as []
            yield start, record
        start = reader.line_num + 1


def _csv_error(lines: list[str], start: int, end: int, source: str, err: csv.Error) -> DatasetValidationError:
    """The csv module's complaint about lines ``start``..``end`` in words, at the line where the quoting went wrong."""
    fault = _quote_fault("\n".join(lines[start - 1 : end]), start)
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


def _read_parquet(path: Path, source: str) -> datasets.Dataset:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets.table import InMemoryTable

    try:
        refuse_duplicate_columns(pq.read_schema(path).names, f"{source}: the file has")
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise DatasetValidationError(
            f"{source}: not a readable Parquet file ({err}).",
            "Write the file again with pandas.DataFrame.to_parquet or datasets.Dataset.to_parquet.",
        ) from None
    return datasets.Dataset(InMemoryTable(table))


def _rows_to_dataset(rows: list[dict[str, Any]], source: str) -> datasets.Dataset:
    """Build a Dataset from row dicts; a type that changes between rows is named with its row."""
    import datasets
    import pyarrow as pa

    columns: dict[str, None] = {}
    for record in rows:
        columns.update(dict.fromkeys(record))
    mapping = {col: [record.get(col) for record in rows] for col in columns}
    try:
        return datasets.Dataset.from_dict(mapping)
    except (pa.ArrowException, TypeError, ValueError) as err:
        for col, values in mapping.items():
            bad = _first_unconvertible_row(values)
            if bad is not None:
                before = next((type_in_words(v) for v in values[:bad] if v is not None), "another type")
                raise DatasetValidationError(
                    f"{source}, row {bad + 1}, field '{col}': expected {before} like the rows before it, "
                    f"got {type_in_words(values[bad])}.",
                    "A field must hold the same type in every row: e.g. quote numbers to make them text, "
                    "and give lists and objects the same layout everywhere.",
                ) from None
        raise DatasetValidationError(f"{source}: cannot build a table from the rows ({err}).") from None


def _first_unconvertible_row(values: list[Any]) -> int | None:
    """Index of the first value that makes the column fail to convert to Arrow, or None."""
    import pyarrow as pa

    def converts(count: int) -> bool:
        try:
            pa.array(values[:count])
            return True
        except (pa.ArrowException, TypeError, ValueError):
            return False

    if converts(len(values)):
        return None
    low, high = 1, len(values)  # values[:high] fails; find the shortest failing prefix
    while low < high:
        mid = (low + high) // 2
        if converts(mid):
            low = mid + 1
        else:
            high = mid
    return high - 1


def type_in_words(value: Any) -> str:
    """A JSON value's type in words, for messages: ``null``, ``true/false``, ``a number``, ``a string``, ``a list``, ``an object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _load_hub(dataset_id: str, split: str) -> datasets.Dataset:
    if is_offline():
        raise DatasetValidationError(
            f"'{dataset_id}' is not a local file, and this machine is offline, so it cannot be "
            "downloaded from the Hugging Face Hub; use a local file instead.",
            "Give a local .jsonl, .json, .csv or .parquet file (or a bundled sample), or connect to the "
            "internet and unset HF_HUB_OFFLINE.",
        )
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, split=split)
    except Exception as err:  # noqa: BLE001 - the Hub raises many types; all mean "cannot use this id"
        raise _hub_error(dataset_id, split, err) from None
    if not isinstance(loaded, datasets.Dataset):
        raise DatasetValidationError(f"Hugging Face dataset '{dataset_id}' split '{split}' is not a single table.")
    if len(loaded) == 0:
        raise DatasetValidationError(
            f"Hugging Face dataset '{dataset_id}' split '{split}' has no rows.", "Pick another split or dataset."
        )
    return loaded


def _hub_error(dataset_id: str, split: str, err: Exception) -> DatasetValidationError:
    text = f"{type(err).__name__}: {err}".strip()
    lowered = text.lower()
    if "split" in lowered and any(word in lowered for word in ("unknown", "not found", "should be one of")):
        return DatasetValidationError(
            f"Hugging Face dataset '{dataset_id}' has no split '{split}' ({text}).",
            "Set dataset_split to one of the splits the dataset has, e.g. 'train'.",
        )
    if any(word in lowered for word in ("gated", "401", "403", "unauthorized", "forbidden", "authenticat")):
        return DatasetValidationError(
            f"No access to Hugging Face dataset '{dataset_id}' ({text}).",
            "Accept the dataset's terms on its Hub page and log in (`hf auth login` or HF_TOKEN).",
        )
    not_found = isinstance(err, FileNotFoundError) or "notfound" in lowered.replace(" ", "")
    if not_found or "doesn't exist" in lowered:
        return DatasetValidationError(
            f"Hugging Face dataset '{dataset_id}' was not found, or you have no access to it ({text}).",
            "Check the id on https://huggingface.co/datasets (it is 'org/name'), log in for private "
            "datasets, or use a local file.",
        )
    if isinstance(err, (ConnectionError, TimeoutError)) or "connect" in lowered or "timed out" in lowered:
        return DatasetValidationError(
            f"Cannot reach the Hugging Face Hub to load '{dataset_id}' ({text}).",
            "Check the network connection, or use a local file.",
        )
    return DatasetValidationError(
        f"Hugging Face dataset '{dataset_id}' could not be loaded ({text}).",
        "Check the id on https://huggingface.co/datasets, or use a local file.",
    )
