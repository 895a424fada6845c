"""Read a dataset from a local file or the Hugging Face Hub into a ``datasets.Dataset``.

JSON Lines, JSON and CSV files are read and parsed here first, so that a malformed line, bytes
that are not UTF-8, or a value whose type changes between rows are reported with their line or
row number rather than as an Arrow stack trace (CSV strictly: ``csv_reader``). The official nested
SQuAD JSON is read as flat question rows (``squad``).

A file over ``LARGE_FILE_BYTES`` is read in bounded memory: JSON Lines and CSV are streamed into
an Arrow file under ``<MODELFORGE_HOME>/cache/datasets`` keyed by the file's content, so that a
second load of the same file maps it from disk without parsing (``arrow_cache``); asked for its
first rows only (a preview), such a file is read that far and its rows are counted from its bytes
(``row_count``), or, for Parquet, from its metadata. A JSON file (one list, or SQuAD) is parsed
whole at any size: JSON cannot be read in part.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetValidationError
from ..hub_ids import looks_like_hub_id
from ..settings import MEGABYTE, get_settings, is_offline
from .arrow_cache import cached_dataset, content_key, write_dataset
from .csv_reader import csv_rows
from .formats import refuse_duplicate_columns
from .row_count import count_csv_records, count_jsonl_rows
from .squad import flatten_squad, is_nested_squad
from .values import first_unconvertible_row, first_value, type_change_error, type_in_words

if TYPE_CHECKING:
    import datasets

SUPPORTED_EXTENSIONS = (".jsonl", ".json", ".csv", ".parquet")
LARGE_FILE_BYTES = 16 * MEGABYTE  # above this, JSON Lines and CSV are streamed to Arrow and previews read the head

__all__ = ["LARGE_FILE_BYTES", "SUPPORTED_EXTENSIONS", "LoadedSource", "is_large_file", "load_dataset_source",
           "read_dataset_source", "type_in_words"]

_HINT_EXTENSIONS = (
    "Give a path to a .jsonl, .json (a list of objects), .csv or .parquet file, "
    "or a Hugging Face dataset id such as 'org/name'."
)
_HINT_UTF8 = "Save the file as UTF-8 (in most editors: Save As > Encoding > UTF-8) and load it again."
_STREAMED = (".jsonl", ".csv")


@dataclass
class LoadedSource:
    """Rows read from a dataset source: ``dataset`` holds every row, or only the first ones when a preview asked for
    those (then ``len(dataset) < num_rows``); ``num_rows`` counts the source's rows; ``notes`` say, in words, what the
    reading left out (e.g. unanswerable SQuAD questions), for the preview's message and the job's log."""

    dataset: datasets.Dataset
    num_rows: int
    notes: list[str] = field(default_factory=list)


def load_dataset_source(source: str, split: str = "train") -> datasets.Dataset:
    """A local file (.jsonl, .json list of objects or SQuAD, .csv, .parquet) or a Hugging Face dataset id: every row.

    Raises DatasetValidationError when the file is missing, unreadable, malformed or empty, or the
    Hub dataset cannot be reached (offline, not found, no access).
    """
    return read_dataset_source(source, split).dataset


def read_dataset_source(source: str, split: str = "train", *, first_rows: int | None = None) -> LoadedSource:
    """Like ``load_dataset_source``, with the row count and the notes; ``first_rows`` (a preview) reads only that
    many rows of a file over LARGE_FILE_BYTES and counts the rest (Hub datasets and smaller files are read whole).

    Raises what ``load_dataset_source`` raises; a preview sees the faults of the rows it reads.
    """
    source = str(source).strip()
    path = Path(source).expanduser()
    if not source:
        raise DatasetValidationError("No dataset given.", _HINT_EXTENSIONS)
    unreachable = _unreachable_path_error(path, source)
    if unreachable is not None:
        raise unreachable
    if path.exists():
        return _load_file(path, source, first_rows)
    if looks_like_hub_id(source):
        dataset = _load_hub(source, split)
        return LoadedSource(dataset, len(dataset))
    raise DatasetValidationError(f"Dataset file not found: {source}.", _HINT_EXTENSIONS)


def is_large_file(path: str | Path) -> bool:
    """True for a file over LARGE_FILE_BYTES: it is streamed to Arrow when loaded, and previewed by its first rows."""
    try:
        return Path(path).stat().st_size > LARGE_FILE_BYTES
    except OSError:
        return False


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


def _load_file(path: Path, source: str, first_rows: int | None) -> LoadedSource:
    if path.is_dir():
        raise DatasetValidationError(f"{source} is a folder, not a dataset file.", _HINT_EXTENSIONS)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DatasetValidationError(
            f"{source}: unsupported file type '{suffix or '(none)'}'; expected one of "
            f"{', '.join(SUPPORTED_EXTENSIONS)}.",
            "Convert the file to JSON Lines (.jsonl, one JSON object per line) or CSV with a header row.",
        )
    large = is_large_file(path)
    head = first_rows if large else None
    if suffix == ".json":
        loaded = _read_json(path, source, head)
    elif suffix == ".parquet":
        loaded = _read_parquet(path, source, head)
    elif head is not None:
        loaded = _read_head(path, source, suffix, head)
    else:
        if large:
            dataset = _read_large(path, source, suffix)
        elif suffix == ".csv":
            dataset = _read_csv(path, source)
        else:
            dataset = _rows_to_dataset(_read_jsonl(_text_lines(path, source), source), source)
        loaded = LoadedSource(dataset, len(dataset))
    if len(loaded.dataset) == 0:
        raise DatasetValidationError(f"{source} has no rows.", "Add at least one row of data to the file.")
    return loaded


def _text_lines(path: Path, source: str) -> list[str]:
    """The file's lines decoded as UTF-8; raises with the first line that is not."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise _unreadable(source, err) from None
    return [_decoded(raw, number, source) for number, raw in enumerate(data.split(b"\n"), start=1)]


def _streamed_lines(path: Path, source: str) -> Iterator[str]:
    """The file's lines decoded as UTF-8, read as they are asked for (numbered as ``_text_lines`` numbers them)."""
    try:
        with path.open("rb") as file:
            for number, raw in enumerate(file, start=1):
                yield _decoded(raw[:-1] if raw.endswith(b"\n") else raw, number, source)
    except OSError as err:
        raise _unreadable(source, err) from None


def _decoded(raw: bytes, number: int, source: str) -> str:
    """Line ``number`` as text; raises naming the line and the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as err:
        raise DatasetValidationError(
            f"{source}, line {number}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1}).",
            _HINT_UTF8,
        ) from None


def _unreadable(source: str, err: OSError) -> DatasetValidationError:
    return DatasetValidationError(
        f"{source} cannot be read ({err.strerror or err}).", "Check that the file exists and is readable."
    )


def _jsonl_records(lines: Iterable[str], source: str) -> Iterator[dict[str, Any]]:
    """Each non-blank line as an object; raises naming the line (and row) that is not valid JSON or not an object."""
    row = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row += 1
        where = f"{source}, line {number} (row {row})"
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
        yield record


def _read_jsonl(lines: Iterable[str], source: str) -> list[dict[str, Any]]:
    return list(_jsonl_records(lines, source))


def _read_json(path: Path, source: str, first_rows: int | None = None) -> LoadedSource:
    """A list of objects, the nested SQuAD layout, or JSON Lines saved as .json; parsed whole at any size, then
    ``first_rows`` (when given) of the rows become the dataset."""
    lines = _text_lines(path, source)
    try:
        data = json.loads("\n".join(lines))
    except json.JSONDecodeError as err:
        if err.msg != "Extra data":
            raise DatasetValidationError(
                f"{source}, line {err.lineno}: not valid JSON ({err.msg} at column {err.colno}).",
                "A .json dataset must be one JSON list of objects: [{...}, {...}].",
            ) from None
        data = _read_jsonl(lines, source)  # JSON Lines saved as .json: read it as such.
    notes: list[str] = []
    if is_nested_squad(data):
        squad = flatten_squad(data, source)
        data, notes = squad.rows, squad.notes(source)
    _refuse_non_records(data, source)
    return LoadedSource(_rows_to_dataset(data[:first_rows] if first_rows is not None else data, source), len(data), notes)


def _refuse_non_records(data: Any, source: str) -> None:
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


def _read_csv(path: Path, source: str) -> datasets.Dataset:
    """Strict CSV (``csv_reader``), every value kept as text."""
    header, rows = csv_rows(_text_lines(path, source), source)
    return _csv_dataset(header, list(rows))


def _csv_dataset(header: list[str], rows: list[list[str]]) -> datasets.Dataset:
    import datasets

    columns = list(zip(*rows)) if rows else [() for _ in header]
    return datasets.Dataset.from_dict({name: list(values) for name, values in zip(header, columns)})


def _read_head(path: Path, source: str, suffix: str, first_rows: int) -> LoadedSource:
    """The first ``first_rows`` rows of a large JSON Lines or CSV file, and the count of all its rows."""
    lines = _streamed_lines(path, source)
    if suffix == ".csv":
        header, records = csv_rows(lines, source)
        rows = list(islice(records, first_rows))
        dataset = _csv_dataset(header, rows)
    else:
        dataset = _rows_to_dataset(list(islice(_jsonl_records(lines, source), first_rows)), source)
    lines.close()
    if len(dataset) < first_rows:
        return LoadedSource(dataset, len(dataset))
    return LoadedSource(dataset, count_csv_records(path) if suffix == ".csv" else count_jsonl_rows(path))


def _read_large(path: Path, source: str, suffix: str) -> datasets.Dataset:
    """Every row of a large JSON Lines or CSV file as Arrow on disk: the cached file for this content, or a new one
    streamed from the file. Raises as the in-memory readers raise, and for a cache that cannot be written."""
    cache_dir = get_settings().home / "cache" / "datasets"
    key = content_key(path, suffix.lstrip("."))
    dataset = cached_dataset(cache_dir, key)
    if dataset is not None:
        return dataset
    lines = _streamed_lines(path, source)
    if suffix == ".csv":
        header, records = csv_rows(lines, source)
        rows: Iterator[dict[str, Any]] = (dict(zip(header, record)) for record in records)
    else:
        rows = _jsonl_records(lines, source)
    try:
        return write_dataset(rows, cache_dir, key, source)
    except OSError as err:
        raise _cache_error(cache_dir, source, err) from None
    finally:
        lines.close()


def _cache_error(cache_dir: Path, source: str, err: OSError) -> Exception:
    """A cache that cannot be written, in words (a full disk told as such)."""
    from ..disk import disk_full_error, is_disk_full

    if is_disk_full(err):
        return disk_full_error(get_settings().home, f"writing {source} to its Arrow cache")
    return DatasetValidationError(
        f"{source} is large and is read through an Arrow cache, which cannot be written in {cache_dir} "
        f"({err.strerror or err}).",
        "Make the data folder (MODELFORGE_HOME) writable, or move it (python app.py --data-dir PATH).",
    )


def _read_parquet(path: Path, source: str, first_rows: int | None = None) -> LoadedSource:
    """The whole table, or (``first_rows``) its first rows and the row count from the file's metadata."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets.table import InMemoryTable

    try:
        refuse_duplicate_columns(pq.read_schema(path).names, f"{source}: the file has")
        if first_rows is None:
            table = pq.read_table(path)
            return LoadedSource(datasets.Dataset(InMemoryTable(table)), table.num_rows)
        file = pq.ParquetFile(path)
        batch = next(file.iter_batches(batch_size=first_rows), None)
        table = pa.Table.from_batches([batch]) if batch is not None else file.schema_arrow.empty_table()
        return LoadedSource(datasets.Dataset(InMemoryTable(table)), file.metadata.num_rows)
    except (pa.ArrowException, OSError) as err:
        raise DatasetValidationError(
            f"{source}: not a readable Parquet file ({err}).",
            "Write the file again with pandas.DataFrame.to_parquet or datasets.Dataset.to_parquet.",
        ) from None


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
            bad = first_unconvertible_row(values)
            if bad is not None:
                raise type_change_error(source, bad + 1, col, first_value(values[:bad]), values[bad]) from None
        raise DatasetValidationError(f"{source}: cannot build a table from the rows ({err}).") from None


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
