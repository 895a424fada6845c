"""``DatasetService``: what the Finetune tab shows before anything starts.

A preview (first rows, detected shape, validation result with row numbers) never raises for a bad
dataset: the problem is part of the answer. Uploaded files are copied into ``uploads/`` so that a
job can still read them after the browser's temporary file is gone.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..data.formats import apply_column_mapping, detect_shape
from ..data.loading import SUPPORTED_EXTENSIONS, load_dataset_source
from ..data.samples import SAMPLES_DIR, sample_dataset_paths
from ..evaluation.dataset_validator import DatasetValidator
from ..exceptions import DatasetValidationError, ModelForgeException, PathNotAllowedError
from ..heavy_imports import wait_for_imports
from ..schemas.tasks import TASK_TABLE
from ..settings import MEGABYTE, Settings
from .path_access import PathPolicy

PREVIEW_ROWS = 5


@dataclass
class DatasetPreview:
    """The preview of one dataset for one task; ``ok`` is False when training would refuse it.

    ``warnings`` (e.g. rows that repeat an earlier row) do not block training; the message says them too.
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

    def preview(self, source: str, task: str, column_mapping: dict | None = None) -> DatasetPreview:
        """Load, map, detect and validate; every problem is reported (the file named by its name), not raised.

        A path the policy does not let this app read (it is shared) is refused before anything is read.
        """
        source = (source or "").strip()
        try:
            self.policy.check_dataset(source)
        except PathNotAllowedError as exc:
            return DatasetPreview(source, False, f"{exc.message} {exc.hint}")
        preview = self._preview(source, task, column_mapping)
        preview.message = self.named(preview.message, preview.source)
        return preview

    def _preview(self, source: str, task: str, column_mapping: dict | None) -> DatasetPreview:
        if not source:
            return DatasetPreview(source, False, "No dataset chosen yet.")
        wait_for_imports()  # datasets reads transformers' tokenizer class when transformers is (half) imported
        try:
            dataset = apply_column_mapping(load_dataset_source(source), column_mapping)
        except ModelForgeException as exc:
            return DatasetPreview(source, False, f"{exc.message} {exc.hint}".strip())
        columns = list(dataset.column_names)
        rows = [dict(row) for row in dataset.select(range(min(PREVIEW_ROWS, len(dataset))))]
        preview = DatasetPreview(source, False, "", columns, rows, len(dataset))
        try:
            shape = detect_shape(columns)
        except DatasetValidationError as exc:
            preview.message = f"{exc.message} {exc.hint}".strip()
            return preview
        preview.shape = shape.value
        accepted = TASK_TABLE[task].shapes if task in TASK_TABLE else ()
        if shape not in accepted:
            preview.message = (
                f"Records of shape '{shape.value}' cannot train the task '{task}'; "
                f"it accepts: {', '.join(s.value for s in accepted)}."
            )
            return preview
        report = DatasetValidator().validate(dataset, shape, source=source)
        preview.issues = [asdict(issue) for issue in report.issues]
        preview.warnings = list(report.warnings)
        preview.ok = report.ok
        ready = " ".join([f"{len(dataset)} rows, shape '{shape.value}': ready.", *report.warnings])
        preview.message = ready if report.ok else report.summary()
        return preview
