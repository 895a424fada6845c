"""``DatasetService``: what the Finetune tab shows before anything starts.

A preview (first rows, detected shape, validation result with row numbers) never raises for a bad
dataset: the problem is part of the answer. A large file (over ``data.loading.LARGE_FILE_BYTES``)
is previewed from its first ``PREVIEW_CHECK_ROWS`` rows, with its rows counted from its bytes, and
the message says how far it was checked. Uploaded files are copied into ``uploads/`` so that a
job can still read them after the browser's temporary file is gone.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.formats import RecordShape, apply_column_mapping, detect_shape
from ..data.loading import SUPPORTED_EXTENSIONS, read_dataset_source
from ..data.placeholders import dataset_placeholder_warnings
from ..data.samples import SAMPLES_DIR, sample_dataset_paths, sample_key_for
from ..data.shape_strategies import shape_refusal, trained_by_in_words
from ..evaluation.dataset_validator import DatasetValidator
from ..exceptions import DatasetValidationError, ModelForgeException, PathNotAllowedError
from ..heavy_imports import wait_for_imports
from ..schemas import TrainingConfig, parse_training_config
from ..schemas.tasks import TASK_TABLE
from ..settings import MEGABYTE, Settings
from .path_access import PathPolicy

if TYPE_CHECKING:
    import datasets

PREVIEW_ROWS = 5
PREVIEW_CHECK_ROWS = 2000  # a file over data.loading.LARGE_FILE_BYTES is read and checked this far in a preview


@dataclass
class DatasetPreview:
    """The preview of one dataset for one task; ``ok`` is False when training would refuse it.

    ``warnings`` (e.g. rows that repeat an earlier row) do not block training; the message says them too.
    ``num_rows`` counts every row of the dataset; ``checked_rows`` are the rows the preview read and validated
    (the first PREVIEW_CHECK_ROWS of a large file, else all). ``notes`` say what reading left out (e.g. SQuAD's
    unanswerable questions); the message says them too. ``trained_by`` names the strategies that train the shape.
    """

    source: str
    ok: bool
    message: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    num_rows: int = 0
    shape: str | None = None
    issues: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked_rows: int = 0
    notes: list[str] = field(default_factory=list)
    trained_by: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class DatasetService:
    """Previews and stores datasets for the UI and the API."""

    def __init__(self, settings: Settings, policy: PathPolicy | None = None):
        self.settings = settings
        self.policy = policy or PathPolicy.from_settings(settings)

    @property
    def file_extensions(self) -> tuple[str, ...]:
        """The file types a dataset can be read from (and uploaded as)."""
        return SUPPORTED_EXTENSIONS

    @staticmethod
    def sample_paths() -> dict[str, str]:
        """The bundled sample datasets: key (``sft``, ``dpo``, a task, ``qa-demo``) -> absolute path."""
        return sample_dataset_paths()

    @staticmethod
    def sample_key_for(strategy: str, preferred: str) -> str | None:
        """The bundled sample that ``strategy`` trains: ``preferred`` (the task's) when it can, else the one named
        after the strategy, else the first it accepts; None when none."""
        return sample_key_for(strategy, preferred)

    def store_upload(self, temp_path: str | Path) -> str:
        """Copy an uploaded file into ``uploads/`` (named by content hash), hashed and copied in chunks;
        return the stored path. A file over ``Settings.max_upload_mb`` is refused and nothing is kept."""
        source = Path(temp_path)
        if source.suffix.lower() not in SUPPORTED_EXTENSIONS:
            raise DatasetValidationError(
                f"{source.name}: unsupported file type '{source.suffix}'.",
                f"Upload one of: {', '.join(SUPPORTED_EXTENSIONS)}.",
            )
        limit_mb = self.settings.max_upload_mb
        uploads = self.settings.uploads_dir
        uploads.mkdir(parents=True, exist_ok=True)
        handle, partial_name = tempfile.mkstemp(dir=uploads, prefix=".partial-")
        partial, digest, size = Path(partial_name), hashlib.sha256(), 0
        try:
            with os.fdopen(handle, "wb") as writer, source.open("rb") as reader:
                for chunk in iter(lambda: reader.read(MEGABYTE), b""):
                    size += len(chunk)
                    if size > limit_mb * MEGABYTE:
                        raise DatasetValidationError(
                            f"{source.name} is larger than the upload limit of {limit_mb:g} MB.",
                            "Upload a smaller file (or a part of it), or start the app with --max-upload-mb N "
                            "(env MODELFORGE_MAX_UPLOAD_MB) to raise the limit.",
                        )
                    digest.update(chunk)
                    writer.write(chunk)
            target = uploads / f"{digest.hexdigest()[:12]}-{source.name}"
            if not target.exists():
                partial.replace(target)
        except OSError as err:
            raise DatasetValidationError(
                f"{source.name} cannot be read or stored ({err.strerror or err}).", "Upload the file again."
            ) from None
        finally:
            partial.unlink(missing_ok=True)
        return str(target)

    def display_name(self, source: str) -> str:
        """How messages name a dataset: an upload or a bundled sample by its file name, else as the user gave it."""
        path = Path(source)
        if self.settings.is_inside_home(path) and path.parent.resolve() == self.settings.uploads_dir.resolve():
            return path.name.split("-", 1)[-1]  # uploads are stored as <content hash>-<original name>
        if path.parent.resolve() == SAMPLES_DIR.resolve():
            return path.name
        return source

    def named(self, text: str, source: str | None) -> str:
        """``text`` with the dataset's stored path replaced by its display name."""
        source = (source or "").strip()
        shown = self.display_name(source) if source else source
        return text.replace(source, shown) if source and shown != source else text

    def preview(
        self, source: str, task: str, column_mapping: dict | None = None, strategy: str | None = None,
        replacements: dict[str, str] | None = None,
    ) -> DatasetPreview:
        """Load, map, detect and validate; every problem is reported (the file named by its name), not raised.

        A shape that ``strategy`` (or, without one, every strategy) cannot train is not ready, with the words of
        run validation; a ready preview says which strategies train its shape and which placeholders are unfilled
        with ``replacements``. A path the policy does not let this app read (it is shared) is refused before
        anything is read.
        """
        source = (source or "").strip()
        try:
            self.policy.check_dataset(source)
        except PathNotAllowedError as exc:
            return DatasetPreview(source, False, f"{exc.message} {exc.hint}")
        preview = self._preview(source, task, column_mapping, strategy, replacements)
        preview.message = self.named(preview.message, preview.source)
        return preview

    def check(self, config: TrainingConfig | dict) -> dict:
        """The dataset check of ``config`` (``data.check.check_dataset``) as a dict, files named by their names.

        Raises ConfigurationError for a bad config, PathNotAllowedError for a dataset or model this app may not
        read, and ModelForgeException subclasses for a model whose tokenizer or config cannot be read.
        """
        from ..data.check import check_dataset

        if not isinstance(config, TrainingConfig):
            config = parse_training_config(config)
        self.policy.check_dataset(config.dataset)
        self.policy.check_model(config.model_name)
        wait_for_imports()
        report = check_dataset(config).to_dict()
        for key in ("source", "message"):
            report[key] = self.named(report[key], config.dataset)
        report["problems"] = [self.named(problem, config.dataset) for problem in report["problems"]]
        return report

    def _preview(
        self, source: str, task: str, column_mapping: dict | None, strategy: str | None, replacements: dict[str, str] | None
    ) -> DatasetPreview:
        if not source:
            return DatasetPreview(source, False, "No dataset chosen yet.")
        wait_for_imports()  # datasets reads transformers' tokenizer class when transformers is (half) imported
        try:
            loaded = read_dataset_source(source, first_rows=PREVIEW_CHECK_ROWS)
            dataset = apply_column_mapping(loaded.dataset, column_mapping)
        except ModelForgeException as exc:
            return DatasetPreview(source, False, f"{exc.message} {exc.hint}".strip())
        columns = list(dataset.column_names)
        rows = [dict(row) for row in dataset.select(range(min(PREVIEW_ROWS, len(dataset))))]
        preview = DatasetPreview(source, False, "", columns, rows, loaded.num_rows, checked_rows=len(dataset),
                                 notes=list(loaded.notes))
        shape = self._shape_for_task(preview, task, strategy)
        if shape is not None:
            preview.trained_by = trained_by_in_words(shape, task)
            self._check(preview, dataset, shape, replacements)
        return preview

    @staticmethod
    def _shape_for_task(preview: DatasetPreview, task: str, strategy: str | None) -> RecordShape | None:
        """The shape detected from the columns, when ``task`` (and ``strategy``) train on it; else None, with the reason
        as the message."""
        try:
            shape = detect_shape(preview.columns)
        except DatasetValidationError as exc:
            preview.message = f"{exc.message} {exc.hint}".strip()
            return None
        preview.shape = shape.value
        accepted = TASK_TABLE[task].shapes if task in TASK_TABLE else ()
        if shape not in accepted:
            preview.message = (
                f"Records of shape '{shape.value}' cannot train the task '{task}'; "
                f"it accepts: {', '.join(s.value for s in accepted)}."
            )
            return None
        try:
            refusal = shape_refusal(shape, strategy, task)
        except ModelForgeException as exc:  # an unknown strategy
            refusal = exc
        if refusal is not None:
            preview.message = f"{preview.source}: {refusal.message} {refusal.hint or ''}".strip()
            return None
        return shape

    @staticmethod
    def _check(preview: DatasetPreview, dataset: datasets.Dataset, shape: RecordShape, replacements: dict[str, str] | None) -> None:
        """Validate the rows read (all, or the first PREVIEW_CHECK_ROWS of a large file) and say the result."""
        report = DatasetValidator().validate(dataset, shape, source=preview.source)
        report.num_rows = preview.num_rows
        report.warnings += dataset_placeholder_warnings(dataset, replacements)
        preview.issues = [asdict(issue) for issue in report.issues]
        preview.warnings = list(report.warnings)
        preview.ok = report.ok
        partial = []
        if preview.checked_rows < preview.num_rows:
            partial = [f"Checked the first {preview.checked_rows:,} of {preview.num_rows:,} rows; "
                       "the dataset check and Start check them all."]
        if report.ok:
            preview.message = " ".join([f"{preview.num_rows:,} rows, shape '{shape.value}': ready.", preview.trained_by, *report.warnings,
                                        *partial, *preview.notes])
        else:
            preview.message = "\n".join([report.summary(), *partial, *preview.notes])
