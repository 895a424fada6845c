"""Large files as Arrow on disk: rows streamed in batches into a memory-mapped file, keyed by the file's content.

The rows of a large JSON Lines or CSV file never sit in memory all at once: they are converted to
Arrow a batch at a time and written to ``<cache>/<key>.arrow``, which ``datasets`` then maps from
disk. The key is a digest of the file's bytes (and of ``CACHE_VERSION``), so a second load of the
same content opens the file again without parsing, and an edited file gets a new one.

Columns and types are inferred as the reader that builds one table from all rows infers them: a
column that first appears in a later row, a column that is null until some row, and whole numbers
that later turn into decimals all widen the schema (Arrow's permissive promotion), and the batches
written before are rewritten to it at the end. A type that cannot widen (text, then a number) is
refused with the row and field, as the in-memory reader refuses it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetValidationError
from .values import first_unconvertible_row, first_value, type_change_error

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

CACHE_VERSION = "1"  # bump when the readers change what they make of a file: old cache files are then unused
FIRST_BATCH_ROWS = 1000
MAX_BATCH_ROWS = 10_000
BATCH_BYTES = 32 * 1024 * 1024  # later batches hold about this much Arrow data (long rows: fewer rows a batch)
_HASH_CHUNK = 16 * 1024 * 1024


def content_key(path: Path, reader: str) -> str:
    """A digest of the file's bytes, the reader's name (e.g. ``jsonl``) and CACHE_VERSION: the cache file's name."""
    import xxhash

    digest = xxhash.xxh3_128(f"{reader}:{CACHE_VERSION}:".encode())
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return f"{reader}-{digest.hexdigest()}"


def cached_dataset(cache_dir: Path, key: str) -> datasets.Dataset | None:
    """The dataset written earlier under ``key``, mapped from disk; None when there is none (or it is unreadable)."""
    import datasets
    import pyarrow as pa

    path = cache_dir / f"{key}.arrow"
    if not path.is_file():
        return None
    try:
        return datasets.Dataset.from_file(str(path))
    except (pa.ArrowException, OSError, ValueError):
        path.unlink(missing_ok=True)  # a damaged cache file is written again
        return None


def write_dataset(rows: Iterable[dict[str, Any]], cache_dir: Path, key: str, source: str) -> datasets.Dataset:
    """Stream ``rows`` into ``<cache_dir>/<key>.arrow`` and return it mapped from disk (an empty dataset for no rows).

    Raises what iterating ``rows`` raises, and DatasetValidationError naming the row and field whose type does not
    fit the rows before it; nothing is left in ``cache_dir`` then. OSError (e.g. a full disk) passes through.
    """
    import datasets

    cache_dir.mkdir(parents=True, exist_ok=True)
    parts = _Parts(cache_dir / f".partial-{key}-{uuid.uuid4().hex[:8]}", source)
    try:
        for first_row, batch in _batches(iter(rows), parts):
            parts.write(batch, first_row)
        if parts.schema is None:
            return datasets.Dataset.from_dict({})
        final = cache_dir / f"{key}.arrow"
        os.replace(parts.finish(), final)
    finally:
        parts.discard()
    return datasets.Dataset.from_file(str(final))


def _batches(rows: Iterator[dict[str, Any]], parts: _Parts) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(1-based number of its first row, rows) for each batch; after the first, sized to about BATCH_BYTES."""
    first_row, size = 1, FIRST_BATCH_ROWS
    while batch := list(islice(rows, size)):
        yield first_row, batch
        first_row += len(batch)
        size = max(1, min(MAX_BATCH_ROWS, int(BATCH_BYTES / max(parts.bytes_per_row, 1))))


class _Parts:
    """Batches written to Arrow stream files, one file per schema: a batch that widens the schema starts a new one."""

    def __init__(self, stem: Path, source: str):
        self.stem, self.source = stem, source
        self.columns: dict[str, None] = {}  # every column seen, in the order first seen
        self.samples: dict[str, Any] = {}  # a value of each column from an earlier row, for messages
        self.schema: pa.Schema | None = None
        self.files: list[Path] = []
        self.writer: pa.ipc.RecordBatchStreamWriter | None = None
        self.bytes_per_row = 0.0
        self.held_rows = 0

    def write(self, rows: list[dict[str, Any]], first_row: int) -> None:
        """Convert and append one batch; raises DatasetValidationError for a type that does not fit."""
        for record in rows:
            self.columns.update(dict.fromkeys(record))
        if not self.columns:  # rows without a field so far ({}): held until a field appears, then all null there
            self.held_rows += len(rows)
            return
        rows, first_row, self.held_rows = [{}] * self.held_rows + rows, first_row - self.held_rows, 0
        table = self._table(rows, first_row)
        self.bytes_per_row = table.nbytes / table.num_rows
        if table.schema != self.schema:
            widened = self._widened(table, rows, first_row)
            if widened != self.schema:
                self._start_file(widened)
            table = _conform(table, widened)
        self.writer.write_table(table)

    def finish(self) -> Path:
        """Close the files and return the one that holds every row in the final schema."""
        self._close()
        if len(self.files) == 1:
            return self.files[0]
        import pyarrow as pa

        earlier = list(self.files)
        self._start_file(self.schema)
        for path in earlier:
            with pa.memory_map(str(path)) as source:
                for batch in pa.ipc.open_stream(source):
                    self.writer.write_table(_conform(pa.Table.from_batches([batch]), self.schema))
            path.unlink()
        self._close()
        self.files = self.files[len(earlier):]
        return self.files[0]

    def discard(self) -> None:
        """Close and delete what is left of the part files (after finish, or after an error)."""
        self._close()
        for path in self.files:
            path.unlink(missing_ok=True)

    def _table(self, rows: list[dict[str, Any]], first_row: int) -> pa.Table:
        """The batch as a table with every column seen so far (absent values null)."""
        import pyarrow as pa

        arrays = {}
        for column in self.columns:
            values = [record.get(column) for record in rows]
            try:
                arrays[column] = pa.array(values)
            except (pa.ArrowException, TypeError, ValueError):
                bad = first_unconvertible_row(values) or 0
                before = first_value(values[:bad])
                before = self.samples.get(column) if before is None else before
                raise type_change_error(self.source, first_row + bad, column, before, values[bad]) from None
            if column not in self.samples and (sample := first_value(values)) is not None:
                self.samples[column] = sample
        return pa.table(arrays)

    def _widened(self, table: pa.Table, rows: list[dict[str, Any]], first_row: int) -> pa.Schema:
        """The current schema widened to hold ``table``; raises naming the first row whose value cannot widen it."""
        import pyarrow as pa

        if self.schema is None:
            return table.schema
        try:
            return _unify(self.schema, table.schema)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
        for field in self.schema:
            new = table.schema.field(field.name)
            if _fits(field.type, new.type):
                continue
            for index, record in enumerate(rows):
                value = record.get(field.name)
                if value is not None and not _fits(field.type, pa.array([value]).type):
                    raise type_change_error(self.source, first_row + index, field.name, self.samples.get(field.name), value)
        raise DatasetValidationError(f"{self.source}: rows {first_row} to {first_row + len(rows) - 1} do not fit the "
                                     "columns of the rows before them.", "Give every row the same fields and types.")

    def _start_file(self, schema: pa.Schema) -> None:
        import pyarrow as pa

        self._close()
        path = self.stem.with_name(f"{self.stem.name}-{len(self.files)}.arrow")
        self.files.append(path)
        self.schema, self.writer = schema, pa.ipc.new_stream(str(path), schema)

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _unify(old: pa.Schema, new: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    return pa.unify_schemas([old, new], promote_options="permissive")


def _fits(old: pa.DataType, new: pa.DataType) -> bool:
    """True when a column of type ``old`` can widen to hold values of type ``new``."""
    import pyarrow as pa

    try:
        _unify(pa.schema([("x", old)]), pa.schema([("x", new)]))
        return True
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return False


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``: missing columns null, narrower types widened, columns in the schema's order."""
    import pyarrow as pa

    if table.schema == schema:
        return table
    return pa.concat_tables([schema.empty_table(), table], promote_options="permissive").cast(schema)
