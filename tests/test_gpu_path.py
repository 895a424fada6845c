"""The fast GPU path, on the CPU: the variable-length attention behind transformers' flash path (its exact per-row
fallback computes here), the GPU fill's choice of micro-batch, the run's plan, Liger's conditions. The kernels
themselves are checked on a GPU (tests/test_gpu.py)."""

from __future__ import annotations

import pytest
import torch

from modelforge_core.hardware.catalog import known_config
from modelforge_core.hardware.estimator import TrainingPlan, estimate_memory
from modelforge_core.hardware.gpu_fill import FILL_SHARE, fill_plan, filled
from modelforge_core.hardware.model_shape import model_shape
from modelforge_core.providers.varlen_attention import ATTENTION_NAME, register_varlen_attention, with_row_lengths
from modelforge_core.schemas import TrainingConfig
from modelforge_core.strategies.liger import liger_problem
from modelforge_core.training import gpu_path

GB = 1024**3


def _pair(path: str):
    from transformers import AutoModelForCausalLM

    register_varlen_attention()
    plain = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa").eval()
    varlen = AutoModelForCausalLM.from_pretrained(path, attn_implementation=ATTENTION_NAME).eval()
    assert varlen.config._attn_implementation == ATTENTION_NAME
    return plain, varlen


@pytest.fixture(scope="module")
def grouped_heads_model(tmp_path_factory) -> str:
    """A tiny Llama with 4 query heads sharing 2 key/value heads (grouped-query attention)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2)
    folder = tmp_path_factory.mktemp("gqa")
    LlamaForCausalLM(config).save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("which", ["demo", "grouped"])
def test_varlen_attention_gives_sdpas_logits_padded_packed_and_in_generation(demo_model, grouped_heads_model, which):
    plain, varlen = _pair(demo_model if which == "demo" else grouped_heads_model)
    torch.manual_seed(1)
    ids = torch.randint(5, 1000, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # left padding
    first, second = torch.randint(5, 1000, (7,)), torch.randint(5, 1000, (5,))
    packed = torch.cat([first, second])[None]
    positions = torch.cat([torch.arange(7), torch.arange(5)])[None]
    with torch.no_grad():
        want = plain(input_ids=ids, attention_mask=mask).logits[mask.bool()]
        assert torch.allclose(varlen(input_ids=ids, attention_mask=mask).logits[mask.bool()], want, atol=1e-4)
        alone = plain(input_ids=second[None]).logits[0]
        by_positions = varlen(input_ids=packed, position_ids=positions).logits[0, 7:]
        by_lengths = varlen(**with_row_lengths({"input_ids": packed, "position_ids": positions})).logits[0, 7:]
        assert torch.allclose(by_positions, alone, atol=1e-4) and torch.allclose(by_lengths, alone, atol=1e-4)
        mixed = varlen(input_ids=packed, position_ids=torch.arange(12)[None]).logits[0, 7:]
        assert not torch.allclose(mixed, alone, atol=1e-2)  # the check can fail: attending to the first row moves them
        for batch, attention in ((ids[:1], None), (ids, mask)):
            expected = plain.generate(batch, attention_mask=attention, max_new_tokens=6, do_sample=False)
            assert varlen.generate(batch, attention_mask=attention, max_new_tokens=6, do_sample=False).tolist() == expected.tolist()


def test_row_lengths_come_from_the_position_ids():
    batch = with_row_lengths({"input_ids": torch.zeros(1, 10, dtype=torch.long),
                              "position_ids": torch.tensor([[0, 1, 2, 0, 1, 2, 3, 4, 0, 1]])})
    assert batch["cu_seq_lens_q"].tolist() == [0, 3, 8, 10] and batch["cu_seq_lens_q"].dtype == torch.int32
    assert batch["max_length_q"] == batch["max_length_k"] == 5


def _llama_1b_plan(**fields) -> TrainingPlan:
    config = TrainingConfig(model_name="meta-llama/Llama-3.2-1B-Instruct", dataset="x.jsonl", bf16=True,
                            per_device_train_batch_size=4, gradient_accumulation_steps=4, max_seq_length=1024,
                            gradient_checkpointing=True, **fields)
    return TrainingPlan.from_config(config, "cuda")


def test_the_fill_folds_the_accumulation_into_the_micro_batch_on_a_large_gpu():
    shape = model_shape(known_config("meta-llama/Llama-3.2-1B-Instruct"), "AutoModelForCausalLM")
    plan = _llama_1b_plan()
    assert plan.varlen_attention and plan.padding_free  # 16 x 1024 tokens: no mask with the varlen kernel
    fill = fill_plan(shape, plan, 4, 139 * GB)
    assert fill.update == {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 1, "gradient_checkpointing": False}
    assert fill.words.startswith("micro-batch 4 x 4 accumulation steps -> 16 x 1 (the same 16 rows per update); "
                                 "gradient checkpointing off: estimated peak"), fill.words
    # a smaller GPU gets what fits its share, checkpointing kept first where only that fits
    budget = 12 * GB
    mid = fill_plan(shape, plan, 4, budget)
    assert mid.update and estimate_memory(shape, filled(plan, mid)).total <= FILL_SHARE * budget
    assert fill_plan(shape, plan, 4, 3 * GB).update == {}  # nothing larger fits: the config as it is


def test_the_estimate_counts_no_mask_with_the_varlen_kernel():
    """4 x 1024 tokens: SDPA's padding-free batch carries a mask over all 4096 x 4096 token pairs, the kernel none."""
    from modelforge_core.hardware.estimator import _packed_mask_bytes

    shape = model_shape(known_config("meta-llama/Llama-3.2-1B-Instruct"), "AutoModelForCausalLM")
    sdpa, varlen = _llama_1b_plan(attention="sdpa"), _llama_1b_plan()
    assert sdpa.padding_free and not sdpa.varlen_attention and varlen.varlen_attention
    assert _packed_mask_bytes(shape, sdpa, 4096) == 5 * 4096 * 4096 and _packed_mask_bytes(shape, varlen, 4096) == 0
    assert estimate_memory(shape, sdpa).total - estimate_memory(shape, varlen).total == 5 * 4096 * 4096
    assert not TrainingPlan.from_config(TrainingConfig(model_name="m", dataset="x.jsonl", bf16=True), "cpu").varlen_attention


def test_on_the_cpu_the_plan_keeps_the_config(make_config):
    config = TrainingConfig.model_validate(make_config(per_device_train_batch_size=2, gradient_accumulation_steps=4))
    path = gpu_path.plan_gpu_path(config, "AutoModelForCausalLM", _llama(config))
    assert path.attention is None and path.config == config and path.notes == []
    asked = TrainingConfig.model_validate(make_config(attention="varlen"))
    assert gpu_path.plan_gpu_path(asked, "AutoModelForCausalLM", _llama(asked)).notes == ["Attention: sdpa (varlen asked for, but no CUDA GPU)"]


def _llama(config: TrainingConfig) -> dict:
    """The config.json of the config's model (the demo model: a Llama)."""
    from modelforge_core.providers.model_source import read_model_config

    return read_model_config(config.model_name)


def _on_a_gpu(monkeypatch, make_config, gpu_gb: float) -> TrainingConfig:
    """This process told it has a CUDA GPU of ``gpu_gb`` that the kernel runs on; a bf16 config of 2 x 4 with checkpointing."""
    monkeypatch.setattr(gpu_path, "_cuda", lambda: (True, gpu_gb * GB))
    monkeypatch.setattr("modelforge_core.providers.varlen_attention.varlen_problem", lambda: None)
    return TrainingConfig.model_validate(make_config(per_device_train_batch_size=2, gradient_accumulation_steps=4,
                                                     gradient_checkpointing=True, bf16=True))


def test_on_a_large_gpu_the_plan_loads_varlen_and_fills(monkeypatch, make_config):
    config = _on_a_gpu(monkeypatch, make_config, 139)
    path = gpu_path.plan_gpu_path(config, "AutoModelForCausalLM", _llama(config))
    assert path.attention == ATTENTION_NAME
    assert (path.config.per_device_train_batch_size, path.config.gradient_accumulation_steps) == (8, 1)
    assert not path.config.gradient_checkpointing and path.config.learning_rate == config.learning_rate
    assert path.notes[0].startswith("Attention: varlen") and path.notes[1].startswith("GPU fill: micro-batch 2 x 4")
    # each part can be turned off; float32 and other providers keep the model's own attention
    kept = gpu_path.plan_gpu_path(config.model_copy(update={"fill_gpu": False}), "AutoModelForCausalLM", _llama(config))
    assert kept.attention == ATTENTION_NAME and kept.config.per_device_train_batch_size == 2
    assert gpu_path.plan_gpu_path(config.model_copy(update={"attention": "sdpa"}), "AutoModelForCausalLM", _llama(config)).attention == "sdpa"
    fp32 = gpu_path.plan_gpu_path(config.model_copy(update={"bf16": False}), "AutoModelForCausalLM", _llama(config))
    assert fp32.attention is None and fp32.config.per_device_train_batch_size == 2
    assert gpu_path.plan_gpu_path(config.model_copy(update={"provider": "unsloth"}), "AutoModelForCausalLM", _llama(config)).attention is None
    assert gpu_path.plan_gpu_path(config.model_copy(update={"strategy": "dpo"}), "AutoModelForCausalLM", _llama(config)).attention is None
    capped = gpu_path.plan_gpu_path(config.model_copy(update={"attention": "varlen"}), "AutoModelForCausalLM", {"model_type": "gemma2"})
    assert capped.attention is None and capped.notes == ["Attention: sdpa (varlen asked for, but not checked for the gemma2 architecture)"]
    seq2seq = gpu_path.plan_gpu_path(config, "AutoModelForSeq2SeqLM", {"model_type": "t5"})
    assert seq2seq.attention is None and seq2seq.config.per_device_train_batch_size == 2


def test_liger_says_why_it_is_not_used(make_config):
    config = TrainingConfig.model_validate(make_config())
    assert liger_problem(config.model_copy(update={"liger_kernel": "off"}), None, False) == "turned off"
    assert liger_problem(config.model_copy(update={"strategy": "dpo"}), None, False).startswith("causal-LM SFT")
    assert liger_problem(config, None, False) == "no CUDA GPU (its kernels are Triton's)"


def test_an_out_of_memory_retry_turns_the_fill_off(make_config, tmp_path):
    """The retry's smaller micro-batch is not folded back into a large one by the fill."""
    from modelforge_core.training.events import EventLog
    from modelforge_core.training.oom_recovery import train_with_recovery

    seen = []

    def train(config, resume, tries):
        seen.append(config)
        if len(seen) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "done"

    config = TrainingConfig.model_validate(make_config(per_device_train_batch_size=4, oom_recovery=True))
    result, final, tries = train_with_recovery(config, train, EventLog(tmp_path / "events.jsonl"), resume=False,
                                               has_checkpoint=lambda: None, on_new_config=lambda c: None)
    assert result == "done" and seen[0].fill_gpu and not final.fill_gpu and final.per_device_train_batch_size == 2


def test_a_run_on_the_fast_path_trains_end_to_end(monkeypatch, make_config, tmp_path):
    """The whole path as on a GPU (the plan told there is one; attention computes by its per-row fallback here):
    the varlen model, the fill, the row-length collator through the trainer into every layer."""
    from modelforge_core.strategies.padding_free import RowLengthCollator
    from modelforge_core.training.events import EventLog
    from modelforge_core.training.pipeline import prepare_run
    from modelforge_core.training.run_files import RunFiles

    monkeypatch.setattr(gpu_path, "_cuda", lambda: (True, 139 * GB))
    monkeypatch.setattr("modelforge_core.providers.varlen_attention.varlen_problem", lambda: None)
    config = TrainingConfig.model_validate(make_config(per_device_train_batch_size=2, gradient_accumulation_steps=2,
                                                       bf16=True, max_steps=3, eval_steps=3))
    run = RunFiles(tmp_path / "run")
    events = EventLog(run.events)
    prepared = prepare_run(config, run, events)
    trainer = prepared.trainer
    assert trainer.model.config._attn_implementation == ATTENTION_NAME
    assert prepared.config.per_device_train_batch_size == 4 and prepared.config.gradient_accumulation_steps == 1
    assert isinstance(trainer.data_collator, RowLengthCollator)
    calls = []
    layer = trainer.model.get_base_model().model.layers[0].self_attn
    layer.register_forward_pre_hook(lambda module, args, kwargs: calls.append(kwargs.get("cu_seq_lens_q")), with_kwargs=True)
    trainer.train()
    assert calls and all(lengths is not None for lengths in calls)
    log = [e["message"] for e in events.read_all() if e.get("type") == "log"]
    assert any(m.startswith("Attention: varlen") for m in log) and any(m.startswith("GPU fill: micro-batch 2 x 2") for m in log)


def test_the_estimate_for_a_large_gpu_shows_the_run_the_worker_will_train(tmp_path):
    """The Finetune tab's and the CLI's estimate on an H200: the filled micro-batch, said in words."""
    from modelforge_core.services.hardware_service import HardwareService, given_machine
    from ui.memory_estimate import estimate_markdown

    config = TrainingConfig(model_name="meta-llama/Llama-3.2-1B-Instruct", dataset="x.jsonl", bf16=True,
                            per_device_train_batch_size=4, gradient_accumulation_steps=4, max_seq_length=1024,
                            gradient_checkpointing=True)
    service = HardwareService(tmp_path)
    h200 = service.estimate(config, machine=given_machine("cuda", 139.0))
    kept = service.estimate(config.model_copy(update={"fill_gpu": False}), machine=given_machine("cuda", 139.0))
    assert h200["gpu_fill"].startswith("micro-batch 4 x 4 accumulation steps -> 16 x 1") and kept["gpu_fill"] is None
    assert h200["peak_gb"] > kept["peak_gb"]  # four times the rows at once, activations kept
    assert "GPU fill (Advanced settings: Fill a large GPU): micro-batch 4 x 4" in estimate_markdown(h200)
    assert service.estimate(config, machine=given_machine("cpu", 24.0))["gpu_fill"] is None


def test_a_gpu_under_40_gb_keeps_the_settings_as_asked(monkeypatch, make_config):
    config = _on_a_gpu(monkeypatch, make_config, 24)
    path = gpu_path.plan_gpu_path(config, "AutoModelForCausalLM", _llama(config))
    assert path.attention == ATTENTION_NAME and path.config == config and len(path.notes) == 1


def test_the_hardware_tabs_recommendations_on_an_h200_estimate_what_the_finetune_tab_does(tmp_path):
    """"Use in Finetune" then the estimate beside Start: the same peak as the table's, the fill counted in both."""
    from modelforge_core.hardware.recommendations import recommendation_config
    from modelforge_core.services.hardware_service import HardwareService, given_machine

    service = HardwareService(tmp_path)
    machine = {**given_machine("cuda", 139.0), "ram_total_gb": 128.0, "profile_defaults": {}}
    items = [item for item in service.recommendations("text-generation", machine) if not item["demo"]]
    assert items
    filled_any = False
    for item in items:
        config = recommendation_config(item["model_id"], "text-generation", item["settings"])
        estimate = service.estimate(config, machine)
        assert estimate["peak_gb"] == item["peak_gb"], item["model_id"]
        filled_any |= bool(estimate["gpu_fill"])
    assert filled_any
