"""Each architecture ModelForge writes to GGUF, built small from the stored config of a recommended model
(its rope, tying and bias settings kept), written and read back by transformers' GGUF loader."""

from __future__ import annotations

import json

import pytest

from modelforge_core.exceptions import ConfigurationError

SHRINK = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 512}


def _tiny(stored: str, tokenizer, **changes):
    """A random-init model of the stored config's architecture at a tiny size."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from modelforge_core.hardware.catalog import CONFIG_DIR

    values = json.loads((CONFIG_DIR / (stored.replace("/", "--") + ".json")).read_text(encoding="utf-8"))
    values = {k: v for k, v in values.items() if k not in ("architectures", "torch_dtype", "transformers_version")}
    values.update(SHRINK, vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id, **changes)
    config = AutoConfig.for_model(values.pop("model_type"), **values)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    from modelforge_core.demo.tokenizer import build_tokenizer

    return build_tokenizer()


def _written_and_read(model, tokenizer, tmp_path, **load):
    import torch
    from transformers import AutoModelForCausalLM

    from modelforge_core.export.gguf_writer import write_gguf

    written = write_gguf(model, tokenizer, tmp_path / "m.gguf", "f16", "tiny")
    read = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="m.gguf", dtype=torch.float32, **load).eval()
    return written, read


def _logit_gap(model, read, tokenizer) -> float:
    import torch

    ids = torch.tensor([tokenizer("<|user|>\nSpell the last digit of 19782.<|end|>\n<|assistant|>\n")["input_ids"]])
    with torch.no_grad():
        return float((model(ids).logits - read(ids).logits).abs().max())


@pytest.mark.parametrize("stored, architecture, reader_class", [
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "llama", "LlamaForCausalLM"),
    ("mistralai/Mistral-7B-Instruct-v0.3", "llama", "LlamaForCausalLM"),  # llama.cpp's graph for Mistral is Llama's
    ("Qwen/Qwen2.5-0.5B-Instruct", "qwen2", "Qwen2ForCausalLM"),
])
def test_each_architecture_reads_back_as_the_model_it_was(stored, architecture, reader_class, tokenizer, tmp_path):
    model = _tiny(stored, tokenizer)
    written, read = _written_and_read(model, tokenizer, tmp_path)
    assert written.architecture == architecture and type(read).__name__ == reader_class
    assert read.config.tie_word_embeddings == model.config.tie_word_embeddings
    assert read.config.num_key_value_heads == 2 and read.config.num_hidden_layers == 2
    assert _logit_gap(model, read, tokenizer) < 1e-2, "F16 rounding only"


def test_llama3_rotary_scaling_is_written_as_llama_cpps_frequency_factors(tokenizer, tmp_path):
    import gguf
    import numpy as np

    from modelforge_core.export.gguf_arch import rope_frequency_factors

    model = _tiny("meta-llama/Llama-3.2-1B-Instruct", tokenizer)
    factors = rope_frequency_factors(model.config)
    assert factors.shape == (8,) and factors[0] == pytest.approx(1.0) and factors[-1] == pytest.approx(32.0)
    assert np.all(np.diff(factors) > -1e-6), "high frequencies kept, low ones divided by up to the factor"
    # transformers' GGUF loader does not read rope_freqs: read with the model's own config, the weights are the same
    written, read = _written_and_read(model, tokenizer, tmp_path, config=model.config)
    assert _logit_gap(model, read, tokenizer) < 1e-2
    tensor = next(t for t in gguf.GGUFReader(tmp_path / "m.gguf").tensors if t.name == "rope_freqs.weight")
    assert np.allclose(np.asarray(tensor.data), factors)


def test_an_architecture_gguf_export_cannot_write_is_refused_naming_those_it_can(tokenizer):
    from transformers import GPT2Config

    from modelforge_core.export.gguf_arch import gguf_architecture

    with pytest.raises(ConfigurationError, match=r"A 'gpt2' model cannot be exported to GGUF yet: ModelForge writes GGUF for "
                                                 r"llama, mistral, qwen2") as info:
        gguf_architecture(GPT2Config())
    assert "merged model" in info.value.hint


def test_a_tokenizer_that_is_not_byte_level_bpe_is_refused_in_words():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from modelforge_core.export.gguf_vocab import gguf_vocab

    core = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    with pytest.raises(ConfigurationError, match="WordLevel tokenizer; ModelForge writes byte-level BPE tokenizers"):
        gguf_vocab(PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]"), 2)


def test_the_pre_tokenizer_rule_is_named_as_llama_cpp_names_it(tokenizer):
    from modelforge_core.export.gguf_vocab import LLAMA3_SPLIT, QWEN2_SPLIT, _pre_tokenizer_rule

    assert gguf_vocab_pre(tokenizer) == "smollm"  # the demo tokenizer: digits one by one, then GPT-2's rule
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}
    for pattern, name in ((LLAMA3_SPLIT, "llama-bpe"), (QWEN2_SPLIT, "qwen2")):
        split = {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}
        assert _pre_tokenizer_rule({"type": "Sequence", "pretokenizers": [split, byte_level]}) == (name, None)
    other = {"type": "Split", "pattern": {"Regex": r"\w+"}, "behavior": "Isolated", "invert": False}
    rule, note = _pre_tokenizer_rule({"type": "Sequence", "pretokenizers": [other, byte_level]})
    assert rule == "default" and "default rule" in note
    assert _pre_tokenizer_rule({"type": "ByteLevel"}) == ("gpt-2", None)


def gguf_vocab_pre(tokenizer) -> str:
    from modelforge_core.export.gguf_vocab import gguf_vocab

    return gguf_vocab(tokenizer, len(tokenizer)).pre


def test_rows_that_do_not_split_into_blocks_stay_f16_and_are_said(tokenizer, tmp_path):
    from modelforge_core.export.gguf_writer import write_gguf

    model = _tiny("HuggingFaceTB/SmolLM2-135M-Instruct", tokenizer, intermediate_size=120)  # ffn_down rows: 120 values
    written = write_gguf(model, tokenizer, tmp_path / "q.gguf", "q8_0", "tiny")
    assert any("2 matrices stay F16" in note and "blk.0.ffn_down.weight" in note for note in written.notes), written.notes


def test_the_parity_checks_of_a_llama3_scaled_model_read_it_with_its_rotary_scaling(tokenizer, tmp_path):
    from modelforge_core.export.checked import _gguf_checks, _Probe
    from modelforge_core.export.gguf_writer import write_gguf
    from modelforge_core.export.held_out import HeldOut
    from modelforge_core.export.parity import ParityReport, greedy_answers

    model = _tiny("meta-llama/Llama-3.2-1B-Instruct", tokenizer)
    prompts = [[{"role": "user", "content": text}] for text in ("Spell 7.", "Spell the last digit of 123.")]
    ids = [list(tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])
           for p in prompts]
    probe = _Probe(HeldOut(prompts, ["seven", "three"], "2 prompts"), ids, ids[0], list(zip(prompts, ["seven", "three"])))
    write_gguf(model, tokenizer, tmp_path / "m.gguf", "f16", "tiny")
    report = ParityReport("gguf f16", 2)
    _gguf_checks(report, model, tokenizer, probe, greedy_answers(model, ids, tokenizer.eos_token_id, tokenizer.pad_token_id, ids[0]),
                 tmp_path / "m.gguf", "f16")
    assert report.passed, report.to_dict()
    assert [c.name for c in report.checks][:2] == ["rope frequencies", "GGUF answers = merged"]
