"""Automatic recovery from out-of-memory: lighter settings, one rung per try, the same effective batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelforge_core.schemas import TrainingConfig
from modelforge_core.training.events import EventLog
from modelforge_core.training.oom_recovery import INJECT_OOM_ENV, MAX_TRIES, next_rung, train_with_recovery

from jobs_helpers import run_to_end

pytestmark = pytest.mark.timeout(600)


def _config(**fields) -> TrainingConfig:
    return TrainingConfig(model_name="m", dataset="d.jsonl", **fields)


def test_each_rung_is_lighter_and_keeps_the_effective_batch():
    rung = next_rung(_config(per_device_train_batch_size=4, gradient_accumulation_steps=1))
    assert rung.update == {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 2}
    assert rung.words == "batch size 4 -> 2 and gradient accumulation 1 -> 2 (the same effective batch of 4)"
    # an odd batch goes to a size that divides it, so the effective batch stays whole
    assert next_rung(_config(per_device_train_batch_size=6, gradient_accumulation_steps=2)).update == {
        "per_device_train_batch_size": 3, "gradient_accumulation_steps": 4}
    assert next_rung(_config(per_device_train_batch_size=5)).update == {
        "per_device_train_batch_size": 1, "gradient_accumulation_steps": 5}
    assert next_rung(_config(per_device_train_batch_size=1)).update == {"gradient_checkpointing": True}
    at_the_bottom = _config(per_device_train_batch_size=1, gradient_checkpointing=True, max_seq_length=512)
    assert next_rung(at_the_bottom) is None, "a shorter max length only where the user allowed it"
    allowed = at_the_bottom.model_copy(update={"oom_shorter_length": True})
    assert next_rung(allowed).update == {"max_seq_length": 256}


def _out_of_memory():
    import torch

    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
                                  "23.65 GiB of which 1.10 GiB is free.")


def test_the_tries_stop_at_the_last_rung_and_off_means_no_try(tmp_path):
    events = EventLog(tmp_path / "events.jsonl")
    seen: list[TrainingConfig] = []

    def always_out_of_memory(config, resume, recovered):
        seen.append(config)
        raise _out_of_memory()

    start = _config(per_device_train_batch_size=8, oom_shorter_length=True, max_seq_length=512)
    with pytest.raises(Exception, match="CUDA out of memory"):
        train_with_recovery(start, always_out_of_memory, events, resume=False, has_checkpoint=lambda: None,
                            on_new_config=lambda config: None)
    assert len(seen) == 1 + MAX_TRIES
    assert [c.per_device_train_batch_size for c in seen] == [8, 4, 2, 1], "three halvings are the three tries"
    messages = [e["message"] for e in events.read_from(0)[0] if e["type"] == "log"]
    assert messages[0] == ("Out of memory (GPU 0 memory (23.65 GiB in all, 1.10 GiB free, needing 2.00 GiB more) ran out). "
                           "Try 1 of 3: batch size 8 -> 4 and gradient accumulation 1 -> 2 (the same effective batch of 8), "
                           "going on from the start.")

    seen.clear()
    with pytest.raises(Exception, match="CUDA out of memory"):
        train_with_recovery(start.model_copy(update={"oom_recovery": False}), always_out_of_memory, events, resume=False,
                            has_checkpoint=lambda: None, on_new_config=lambda config: None)
    assert len(seen) == 1, "recovery turned off: the first error ends the run"

    def other_error(config, resume, recovered):
        seen.append(config)
        raise ValueError("not a memory problem")

    seen.clear()
    with pytest.raises(ValueError):
        train_with_recovery(start, other_error, events, resume=False, has_checkpoint=lambda: None,
                            on_new_config=lambda config: None)
    assert len(seen) == 1


def test_an_injected_out_of_memory_restarts_from_the_checkpoint_with_half_the_batch(services, make_config, monkeypatch):
    training, models, _ = services
    monkeypatch.setenv(INJECT_OOM_ENV, "8")
    job = training.submit(make_config(per_device_train_batch_size=4, gradient_accumulation_steps=1, max_steps=16,
                                      save_steps=5, logging_steps=2, output_name="recovered"))
    events = run_to_end(training, job["id"], timeout=500)
    job = training.get_job(job["id"])
    run_dir = Path(job["run_dir"])
    assert job["status"] == "completed", (job, (run_dir / "worker.log").read_text()[-3000:])

    (recovery,) = [e for e in events if e["type"] == "recovery"]
    assert recovery["attempt"] == 1 and recovery["checkpoint"] == "checkpoint-5"
    assert recovery["update"] == {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 2}
    said = [e["message"] for e in events if e["type"] == "log" and e["message"].startswith("Out of memory")]
    assert said == ["Out of memory (GPU memory ran out). Try 1 of 3: batch size 4 -> 2 and gradient accumulation 1 -> 2 "
                    "(the same effective batch of 4), going on from checkpoint-5."]
    after = events[events.index(recovery):]
    progress = [e["step"] for e in after if e["type"] == "progress"]
    assert progress and min(progress) >= 5 and progress[-1] == 16, "it went on from checkpoint-5 to the end"

    # the settings that worked: in the job's config, the model's config and its card; the effective batch kept
    assert job["config"]["per_device_train_batch_size"] == 2 and job["config"]["gradient_accumulation_steps"] == 2
    folder = Path(models.get_model(job["model_id"])["path"])
    metadata = json.loads((folder / "modelforge.json").read_text())
    saved = metadata["config"]
    assert saved["per_device_train_batch_size"] * saved["gradient_accumulation_steps"] == 4
    assert metadata["metrics"]["steps"] == 16
    assert metadata["oom_recovery"] == [{"what": "GPU memory", "change": recovery["change"]}]
    card = (folder / "README.md").read_text()
    assert "ran out of memory and went on with lighter ones" in card and "batch size 4 -> 2" in card
