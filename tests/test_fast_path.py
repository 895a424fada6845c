"""The fast path (padding-free batches, chunked loss) gives the padded path's loss on the same batch."""

from __future__ import annotations

import pytest
import torch

from modelforge_core.schemas import TrainingConfig
from modelforge_core.strategies.padding_free import packs_correctly
from modelforge_core.training.events import EventLog
from modelforge_core.training.pipeline import prepare_run
from modelforge_core.training.run_files import RunFiles


def _prepared(tmp_path, demo_model, samples, name: str, fast: bool):
    config = TrainingConfig(
        model_name=demo_model, dataset=samples["text-generation"], eval_split=0.0, max_steps=1, seed=7,
        padding_free=fast, chunked_loss=fast, lora_dropout=0.0,
    )
    run = RunFiles(tmp_path / name)
    run.events.parent.mkdir(parents=True, exist_ok=True)
    events = EventLog(run.events)
    return prepare_run(config, run, events), events


def test_fast_path_gives_the_padded_paths_loss_on_a_fixed_batch(tmp_path, demo_model, samples):
    fast, fast_events = _prepared(tmp_path, demo_model, samples, "fast", fast=True)
    padded, _ = _prepared(tmp_path, demo_model, samples, "padded", fast=False)
    logs = [e["message"] for e in fast_events.read_all() if e.get("type") == "log"]
    assert "Padding-free batches: on (checked on this model)" in logs and "Chunked loss: on" in logs

    rows = [fast.trainer.train_dataset[i] for i in range(6)]
    assert len({len(r["input_ids"]) for r in rows}) > 1, "rows of different lengths, so the padded batch has padding"
    fast_batch = fast.trainer.data_collator(rows)
    padded_batch = padded.trainer.data_collator(rows)
    assert fast_batch["input_ids"].shape[0] == 1 and "position_ids" in fast_batch and "attention_mask" not in fast_batch
    assert (padded_batch["attention_mask"] == 0).any(), "the padded path pads"
    assert fast_batch["input_ids"].numel() == int(padded_batch["attention_mask"].sum()), "no padding tokens at all"

    with torch.no_grad():
        fast.trainer.model.train()
        padded.trainer.model.train()
        fast_loss = fast.trainer.compute_loss(fast.trainer.model, dict(fast_batch))
        padded_loss = padded.trainer.compute_loss(padded.trainer.model, dict(padded_batch))
    assert fast_loss.item() == pytest.approx(padded_loss.item(), rel=1e-5), (fast_loss.item(), padded_loss.item())


class _LeakyLM(torch.nn.Module):
    """A toy LM whose token i sees every earlier token of the sequence, position ids or not."""

    def __init__(self):
        super().__init__()
        self.config = type("Config", (), {"vocab_size": 50})()
        self.embed = torch.nn.Embedding(50, 8)
        self.head = torch.nn.Linear(8, 50)

    def forward(self, input_ids, position_ids=None, use_cache=False):
        hidden = self.embed(input_ids).cumsum(dim=1)
        return type("Out", (), {"logits": self.head(hidden)})()


def test_a_model_that_would_mix_rows_gets_the_padded_path(demo_model):
    from transformers import AutoModelForCausalLM

    assert packs_correctly(AutoModelForCausalLM.from_pretrained(demo_model))
    assert not packs_correctly(_LeakyLM())
