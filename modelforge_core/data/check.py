"""The dataset check: what a model will learn from a dataset, before anything trains. It reports; it never trains.

``check_dataset(config)`` reads the rows as a run would (``load_training_splits``: placeholders filled,
duplicates counted or dropped, the same split), tokenizes them with the tokenizer and the functions of
the strategy that will train (SFT: ``tokenize_sft_rows``, cached, so the run reuses it; preference pairs:
``preference_rows``), and says per split how long the rows are against ``max_seq_length``, how many are
truncated and dropped and why, and shows the first rows as the model reads them, trained tokens apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetValidationError, ModelForgeException
from ..model_kinds import ModelKind
from .formats import RecordShape, resolve_fields, shape_in_words

if TYPE_CHECKING:
    from ..schemas import TrainingConfig

EXAMPLE_ROWS = 3
SHORT_ANSWER_CHARS = 3  # an answer shorter than this (after trimming) is worth a look


@dataclass
class DatasetCheck:
    """The check's report; ``ok`` is False when training would refuse the data (``message`` says why).

    ``splits`` maps ``train``/``eval`` to ``TokenStats.to_dict()`` plus its ``summary`` in words; ``examples`` holds the first rows as runs of
    text (``token_masks.segments``); ``short_answers`` the 1-based rows with empty or very short answers.
    """

    source: str
    model: str
    strategy: str
    max_seq_length: int
    ok: bool = False
    message: str = ""
    rows: int = 0
    shape: str | None = None
    shape_words: str = ""
    trained_by: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    trained_tokens_per_epoch: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    short_answers: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as text lines (the CLI prints them)."""
        lines = [f"{self.source}: {self.rows} rows, shape '{self.shape or 'unknown'}'" + (f" ({self.shape_words})" if self.shape_words else "")]
        lines += [self.trained_by] if self.trained_by else []
        lines.append(("Ready: " if self.ok else "Cannot train on this: ") + self.message)
        lines += [f"  problem: {problem}" for problem in self.problems]
        lines += [f"  {note}" for note in self.notes]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        for stats in self.splits.values():
            lines.append(f"Tokens, {stats['summary']}")
            lines += [f"    {b['label']:>12} tokens: {b['rows']} rows" + (" (truncated)" if b["truncated"] else "") for b in stats["histogram"]]
        for example in self.examples:
            lines.append(f"Row {example['row']} as the model reads it ({example['title']}; [[trained]], ~~cut~~):")
            lines.append("".join(_marked(run) for run in example["segments"]))
        return lines


def _marked(run: dict[str, Any]) -> str:
    return {"trained": f"[[{run['text']}]]", "cut": f"~~{run['text']}~~"}.get(run["kind"], run["text"])


def check_dataset(config: TrainingConfig) -> DatasetCheck:
    """The report for ``config``'s dataset, model, strategy and data settings; a bad dataset is reported, not raised.

    Raises ModelForgeException subclasses only for a model or tokenizer that cannot be read.
    """
    from .pipeline import load_training_splits
    from .shape_strategies import shape_refusal, trained_by_in_words

    check = DatasetCheck(config.dataset, config.model_name, config.strategy, config.max_seq_length)
    try:
        splits = load_training_splits(config)
    except DatasetValidationError as exc:
        check.message = f"{exc.message} {exc.hint or ''}".strip()
        check.problems, check.rows, check.shape = _row_problems(config)
        return check
    shape = splits.shape
    check.rows, check.shape, check.shape_words = splits.report.num_rows, shape.value, shape_in_words(shape)
    check.trained_by = trained_by_in_words(shape, config.task)
    check.warnings = list(splits.warnings)
    check.notes = [note for note in splits.notes if note not in splits.warnings]
    refusal = shape_refusal(shape, config.strategy, config.task)
    if refusal is not None:
        check.message = f"{config.dataset}: {refusal.message} {refusal.hint or ''}".strip()
        return check
    tokenizer, kind = _tokenizer_and_kind(config)
    check.short_answers = short_answers(splits.rows, shape)
    check.warnings += _short_answer_warnings(check.short_answers)
    if kind is not ModelKind.CAUSAL:
        check.ok = True
        check.message = (f"{check.rows} rows of {shape.value} data. The token view is for causal language models; "
                         f"this is a {kind.value} model, whose inputs are cut at max_seq_length ({config.max_seq_length}).")
        return check
    _token_view(check, splits, shape, tokenizer, config)
    train = check.splits.get("train", {})
    nothing_left = nothing_left_error(train["rows"], train["dropped"], config.max_seq_length)
    if nothing_left is not None:
        check.message = f"{nothing_left.message} {nothing_left.hint}"
        return check
    check.ok = True
    check.message = (
        f"{check.rows} rows; {train.get('truncated', 0)} training rows truncated and {train.get('dropped', 0)} dropped at "
        f"max_seq_length {config.max_seq_length}; {check.trained_tokens_per_epoch:,} trained tokens per epoch."
    )
    return check


def nothing_left_error(rows: int, dropped: int, max_seq_length: int) -> DatasetValidationError | None:
    """The error (not raised) when truncation leaves no training row with anything to learn; None otherwise."""
    if rows and dropped < rows:
        return None
    return DatasetValidationError(
        f"Every one of the {rows} training rows would be dropped at max_seq_length {max_seq_length}: in each, the prompt "
        "fills the first max_seq_length tokens, so nothing of the answer is left to learn.",
        "Raise max_seq_length (the dataset check shows the rows' token lengths), or shorten the prompts.",
    )


def _row_problems(config: TrainingConfig) -> tuple[list[str], int, str | None]:
    """The validator's per-row problems with their rows, the row count and the shape, when the file reads at all."""
    from ..evaluation.dataset_validator import DatasetValidator
    from .formats import apply_column_mapping, detect_shape
    from .loading import load_dataset_source

    try:
        dataset = apply_column_mapping(load_dataset_source(config.dataset, split=config.dataset_split), config.column_mapping)
        shape = detect_shape(dataset.column_names)
    except ModelForgeException:
        return [], 0, None
    report = DatasetValidator().validate(dataset, shape, source=config.dataset)
    return [str(issue) for issue in report.issues], report.num_rows, shape.value


def _tokenizer_and_kind(config: TrainingConfig) -> tuple[Any, ModelKind]:
    """The model's tokenizer (no weights are read) and the kind of model that serves the task."""
    from ..providers.model_classes import check_model_serves_task
    from ..providers.model_source import read_model_config
    from ..providers.provider_factory import ProviderFactory

    auto_class = check_model_serves_task(config.model_name, read_model_config(config.model_name), config.task)
    tokenizer = ProviderFactory.create("huggingface").load_tokenizer(config.model_name)
    return tokenizer, ModelKind.of_auto_class(auto_class)


def _token_view(check: DatasetCheck, splits: Any, shape: RecordShape, tokenizer: Any, config: TrainingConfig) -> None:
    """Per-split token stats and the first rows, from the functions the strategy trains with."""
    from ..schemas.tasks import PREFERENCE_PAIR_SHAPES
    from .token_stats import prepared_token_stats

    chat = bool(getattr(tokenizer, "chat_template", None))
    if shape in PREFERENCE_PAIR_SHAPES:
        from ..strategies.preference_strategy import preference_rows

        def prepare(rows: Any) -> Any:
            return preference_rows(rows, shape, chat)
    else:
        from ..strategies.sft_strategy import tokenize_sft_rows

        def prepare(rows: Any) -> Any:
            return tokenize_sft_rows(rows, tokenizer, config)

    for name, rows in (("train", splits.train), ("eval", splits.eval)):
        if rows is None:
            continue
        stats = prepared_token_stats(prepare(rows), tokenizer, config.max_seq_length, packing=config.packing)
        check.splits[name] = {**stats.to_dict(), "summary": stats.words(name)}
    check.trained_tokens_per_epoch = check.splits["train"]["trained_tokens"]
    first = splits.rows.select(range(min(EXAMPLE_ROWS, len(splits.rows))))
    check.examples = _examples(prepare(first), shape, tokenizer, config.max_seq_length)


def _examples(prepared: Any, shape: RecordShape, tokenizer: Any, max_length: int) -> list[dict[str, Any]]:
    from .token_masks import segments
    from .token_stats import preference_token_ids

    examples = []
    for number, row in enumerate(prepared, start=1):
        if "input_ids" in row:
            examples.append({"row": number, "title": "the whole row", "segments": segments(tokenizer, row["input_ids"], row["completion_mask"], max_length)})
            continue
        prompt, chosen, rejected = preference_token_ids(row, tokenizer)
        for title, answer in (("prompt + chosen answer", chosen), ("prompt + rejected answer", rejected)):
            ids = prompt + answer
            mask = [0] * len(prompt) + [1] * len(answer)
            examples.append({"row": number, "title": title, "segments": segments(tokenizer, ids, mask, max_length)})
    return examples


def short_answers(rows: Any, shape: RecordShape) -> dict[str, list[int]]:
    """1-based rows whose answer (every reply of a chat; both answers of a pair) is empty or under SHORT_ANSWER_CHARS."""
    empty, short = [], []
    columns = resolve_fields(shape, rows.column_names)
    number = 0
    for batch in rows.iter(batch_size=1000):
        for values in zip(*batch.values()):
            row, number = dict(zip(batch, values)), number + 1
            texts = [text.strip() for text in _answers(row, shape, columns)]
            if any(not text for text in texts):
                empty.append(number)
            elif any(len(text) < SHORT_ANSWER_CHARS for text in texts):
                short.append(number)
    return {"empty": empty, "short": short}


def _answers(row: dict[str, Any], shape: RecordShape, columns: dict[str, str | None]) -> list[str]:
    from ..schemas.tasks import PREFERENCE_SHAPES
    from .conversation import row_conversation

    if shape in PREFERENCE_SHAPES:
        from ..strategies.preference_strategy import as_messages

        answers = [row.get("chosen"), row.get("rejected"), row.get("completion")]
        return [m["content"] or "" for value in answers if value is not None for m in as_messages(value, "assistant")]
    if shape is RecordShape.EXTRACTIVE_QA:
        return []
    conversation = row_conversation(row, shape, columns)
    if conversation.text is not None:
        return [conversation.text]
    return [m["content"] for m in conversation.messages if m["role"] == "assistant" and not m.get("tool_calls")]


def _rows(rows: list[int]) -> str:
    return "1 row has" if len(rows) == 1 else f"{len(rows)} rows have"


def _short_answer_warnings(found: dict[str, list[int]]) -> list[str]:
    from ..evaluation.dataset_validator import row_list

    warnings = []
    if found.get("empty"):
        warnings.append(f"{_rows(found['empty'])} an empty answer ({row_list(found['empty'])}): the model learns to say nothing there.")
    if found.get("short"):
        warnings.append(f"{_rows(found['short'])} an answer under {SHORT_ANSWER_CHARS} characters ({row_list(found['short'])}).")
    return warnings
