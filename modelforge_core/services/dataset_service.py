"""``DatasetService``: what the Finetune tab shows before anything starts.

A preview (first rows, detected shape, validation result with row numbers) never raises for a bad
dataset: the problem is part of the answer. Uploaded files are copied into ``uploads/`` so that a
job can still read them after the browser's temporary file is gone.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..data.formats import apply_column_mapping, detect_shape
from ..data.loading import SUPPORTED_EXTENSIONS, load_dataset_source
from ..data.samples import SAMPLES_DIR, sample_dataset_paths
from ..evaluation.dataset_validator import DatasetValidator
from ..exceptions import DatasetValidationError, ModelForgeException
from ..heavy_imports import wait_for_imports
from ..schemas.tasks import TASK_TABLE
from ..settings import Settings

PREVIEW_ROWS = 5


@dataclass
class DatasetPreview:
    """The preview of one dataset for one task; ``ok`` is False when training would refuse it."""

    source: str
    ok: bool
    message: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    num_rows: int = 0
    shape: str | None = None
    issues: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class DatasetService:
    """Previews and stores datasets for the UI and the API."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @property
    def file_extensions(self) -> tuple[str, ...]:
        """The file types a dataset can be read from (and uploaded as)."""
        return SUPPORTED_EXTENSIONS

    @staticmethod
    def sample_paths() -> dict[str, str]:
        """The bundled sample datasets: key (``sft``, ``dpo``, a task, ``qa-demo``) -> absolute path."""
        return sample_dataset_paths()

    def store_upload(self, temp_path: str | Path) -> str:
        """Copy an uploaded file into ``uploads/`` (named by content hash); return the stored path."""
        source = Path(temp_path)
        if source.suffix.lower() not in SUPPORTED_EXTENSIONS:
            raise DatasetValidationError(
                f"{source.name}: unsupported file type '{source.suffix}'.",
                f"Upload one of: {', '.join(SUPPORTED_EXTENSIONS)}.",
            )
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        target = self.settings.uploads_dir / f"{digest}-{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copyfile(source, target)
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
        """Load, map, detect and validate; every problem is reported (the file named by its name), not raised."""
        preview = self._preview((source or "").strip(), task, column_mapping)
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
        preview.ok = report.ok
        preview.message = f"{len(dataset)} rows, shape '{shape.value}': ready." if report.ok else report.summary()
        return preview
