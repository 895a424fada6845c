"""What the trainer keeps of each split's tokens: lengths against ``max_seq_length``, truncated and dropped rows.

The rules are TRL's, read from its trainers: SFT truncates ``input_ids`` to ``max_length`` (keeping the
start) and drops a row left with no trained token (not when packing); DPO keeps the prompt and drops a
pair whose prompt alone fills ``max_length``, and truncates prompt+answer to it. The pipeline logs these
counts at the start of a run and the dataset check shows them, from the same functions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HISTOGRAM_EDGES = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # bins of token lengths, as shares of max_seq_length
_BATCH = 4096


@dataclass
class TokenStats:
    """One split's tokens: ``rows`` in, ``truncated`` (longer than ``max_length``), ``dropped`` (nothing left to learn,
    with ``drop_reasons``), the trained tokens the trainer sees per epoch, and a length ``histogram``."""

    max_length: int
    rows: int = 0
    truncated: int = 0
    dropped: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)
    trained_tokens: int = 0
    longest: int = 0
    histogram: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def words(self, split: str) -> str:
        """One line for the job log, e.g. ``train: 80 rows, 12 truncated to 512 tokens, 1 dropped (...)``."""
        text = f"{split}: {self.rows} rows, {self.truncated} truncated to {self.max_length} tokens (max_seq_length)"
        if self.dropped:
            reasons = "; ".join(f"{count} {reason}" for reason, count in self.drop_reasons.items())
            text += f", {self.dropped} dropped ({reasons})"
        else:
            text += ", none dropped"
        return text + f"; {self.trained_tokens:,} trained tokens per epoch, the longest row {self.longest} tokens"


def _histogram(lengths_by_bin: list[int], max_length: int) -> list[dict[str, Any]]:
    edges = [max(1, round(share * max_length)) for share in HISTOGRAM_EDGES]
    bins = []
    for index, count in enumerate(lengths_by_bin):
        if index < len(edges):
            low = edges[index - 1] + 1 if index else 1
            label = f"{low}-{edges[index]}"
        else:
            label = f"over {edges[-1]}"
        bins.append({"label": label, "upto": edges[index] if index < len(edges) else None, "rows": count,
                     "truncated": index >= HISTOGRAM_EDGES.index(1.0) + 1})
    return bins


class _Counter:
    """Adds batches of per-row lengths and kept trained tokens into a TokenStats."""

    def __init__(self, max_length: int):
        import numpy as np

        self.stats = TokenStats(max_length=max_length)
        self.edges = np.array([max(1, round(share * max_length)) for share in HISTOGRAM_EDGES])
        self.bins = np.zeros(len(HISTOGRAM_EDGES) + 1, dtype=np.int64)

    def add(self, lengths: Any, kept_trained: Any, drops: dict[str, Any]) -> None:
        import numpy as np

        stats = self.stats
        stats.rows += len(lengths)
        stats.truncated += int((lengths > stats.max_length).sum())
        stats.longest = max(stats.longest, int(lengths.max()) if len(lengths) else 0)
        self.bins += np.bincount(np.searchsorted(self.edges, lengths, side="left"), minlength=len(self.bins))
        dropped = np.zeros(len(lengths), dtype=bool)
        for reason, rows in drops.items():
            rows = rows & ~dropped
            if rows.any():
                stats.drop_reasons[reason] = stats.drop_reasons.get(reason, 0) + int(rows.sum())
            dropped |= rows
        stats.dropped += int(dropped.sum())
        stats.trained_tokens += int(kept_trained[~dropped].sum())

    def result(self) -> TokenStats:
        self.stats.histogram = _histogram([int(count) for count in self.bins], self.stats.max_length)
        return self.stats


def sft_token_stats(tokenized: Any, max_length: int, *, packing: bool = False) -> TokenStats:
    """Stats of a dataset of ``input_ids`` and ``completion_mask`` (``token_masks.tokenize_rows``), read in Arrow batches."""
    import numpy as np
    import pyarrow.compute as pc

    counter = _Counter(max_length)
    for batch in tokenized.with_format("arrow").iter(batch_size=_BATCH):
        masks = batch.column("completion_mask")  # a slice of the table: flatten reads this batch's values only
        lengths = pc.list_value_length(masks).to_numpy(zero_copy_only=False).astype(np.int64)
        values = pc.list_flatten(masks).to_numpy(zero_copy_only=False).astype(np.int64)
        summed = np.concatenate([[0], np.cumsum(values)])
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        starts, ends = offsets[:-1], offsets[1:]
        kept = summed[np.minimum(ends, starts + max_length)] - summed[starts]
        total = summed[ends] - summed[starts]
        drops = {} if packing else {
            "with no trained token at all (no reply to learn)": total == 0,
            f"with every trained token past the first {max_length} (the prompt fills max_seq_length)": kept == 0,
        }
        counter.add(lengths, kept, drops)
    return counter.result()


def preference_token_ids(row: dict[str, Any], tokenizer: Any) -> tuple[list[int], list[int], list[int]]:
    """(prompt, chosen, rejected) token ids of one TRL preference row, split as TRL's DPO tokenizer splits them:
    the answers start where the tokenized prompt and prompt+answer part."""
    from trl.data_utils import common_prefix_length

    if isinstance(row["prompt"], list):
        def ids(messages: list, generation_prompt: bool = False) -> list[int]:
            encoded = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, add_generation_prompt=generation_prompt)
            return list(encoded["input_ids"])

        prompt = ids(row["prompt"], generation_prompt=True)
        with_chosen, with_rejected = ids(row["prompt"] + row["chosen"]), ids(row["prompt"] + row["rejected"])
    else:
        eos = tokenizer.eos_token or ""
        chosen, rejected = (text if text.endswith(eos) else text + eos for text in (row["chosen"], row["rejected"]))
        prompt = tokenizer(text=row["prompt"])["input_ids"]
        with_chosen = tokenizer(text=row["prompt"] + chosen)["input_ids"]
        with_rejected = tokenizer(text=row["prompt"] + rejected)["input_ids"]
    shared = min(common_prefix_length(prompt, with_chosen), common_prefix_length(prompt, with_rejected))
    return prompt[:shared], with_chosen[shared:], with_rejected[shared:]


def preference_token_stats(rows: Any, tokenizer: Any, max_length: int) -> TokenStats:
    """Stats of TRL preference rows (``preference_rows``): a pair's length is its prompt plus its longer answer."""
    import numpy as np

    counter = _Counter(max_length)
    for start in range(0, len(rows), _BATCH):
        lengths, kept, prompts = [], [], []
        for row in rows.select(range(start, min(start + _BATCH, len(rows)))):
            prompt, chosen, rejected = preference_token_ids(row, tokenizer)
            room = max(max_length - len(prompt), 0)
            lengths.append(len(prompt) + max(len(chosen), len(rejected)))
            kept.append(min(len(chosen), room) + min(len(rejected), room))
            prompts.append(len(prompt))
        prompt_lengths = np.array(prompts)
        drops = {f"with a prompt of {max_length} tokens or more (nothing of the answers would be left)": prompt_lengths >= max_length}
        counter.add(np.array(lengths), np.array(kept), drops)
    return counter.result()


def prepared_token_stats(prepared: Any, tokenizer: Any, max_length: int, *, packing: bool = False) -> TokenStats | None:
    """The stats of a strategy's prepared rows: tokenized SFT rows or TRL preference rows; None for other formats
    (encoder-decoder and span-QA rows, truncated by their own tokenizers)."""
    columns = set(prepared.column_names)
    if {"input_ids", "completion_mask"} <= columns:
        return sft_token_stats(prepared, max_length, packing=packing)
    if {"prompt", "chosen", "rejected"} <= columns:
        return preference_token_stats(prepared, tokenizer, max_length)
    return None
