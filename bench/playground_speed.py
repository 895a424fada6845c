"""Playground speed: time to first token and tokens/s of the Playground's streamed chat against a
bare ``model.generate`` on the same loaded model.

    python -m bench.playground_speed [--runs 12] [--new-tokens 128]

The model: a random-init Llama-shaped model of about 25M parameters (demo tokenizer) with a LoRA
adapter (r=16 on all linear layers), registered in a throwaway registry and loaded by
``PlaygroundService`` exactly as the Playground tab loads it. Both sides decode greedily from the
same prompt tokens, the same number of new tokens (the texts are checked to be equal), on the
same model object, interleaved run by run. Ours = ``PlaygroundService.stream_chat`` (generation
in a thread, a TextIteratorStreamer, the text yielded as it grows); TTFT = time to its first
yield. Bare = ``model.generate`` without a streamer; its TTFT = a generate of one new token.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

MODEL_SHAPE = {"hidden_size": 512, "intermediate_size": 1376, "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 8}
PROMPT = "Give three tips for staying healthy, and explain each one in a sentence or two."


def build_registered_model(home: Path):
    """Base model + LoRA adapter on disk, registered; returns (PlaygroundService, model id)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from modelforge_core.database.database_manager import DatabaseManager
    from modelforge_core.demo.tokenizer import build_tokenizer
    from modelforge_core.services.model_service import ModelService
    from modelforge_core.services.playground_service import PlaygroundService
    from modelforge_core.settings import Settings

    base, adapter = home / "base", home / "adapter"
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(base)
    tokenizer.save_pretrained(adapter)
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=1024, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **MODEL_SHAPE)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(base)
    peft_model = get_peft_model(LlamaForCausalLM.from_pretrained(base),
                                LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", init_lora_weights=False))
    peft_model.save_pretrained(adapter)
    settings = Settings(home=home / "home")
    models = ModelService(DatabaseManager(settings.database_url), settings)
    record = models.register_model(name="bench-playground", base_model=str(base), task="text-generation", strategy="sft",
                                   provider="huggingface", path=adapter, config={}, metrics={})
    return PlaygroundService(models), record["id"]


def measure(runs: int = 12, new_tokens: int = 128) -> dict[str, dict[str, list[float]]]:
    import torch

    from modelforge_core.services.playground_service import GenerationSettings

    playground, model_id = build_registered_model(Path(tempfile.mkdtemp(prefix="mf-playground-")))
    settings = GenerationSettings(temperature=0.0, repetition_penalty=1.0, max_new_tokens=new_tokens)
    messages = [{"role": "user", "content": PROMPT}]
    loaded = playground.load(model_id)
    inputs = playground._inputs(loaded, messages, settings)  # the very tokens the Playground sends
    prompt_length = inputs["input_ids"].shape[1]

    def bare(max_new_tokens: int):
        with torch.no_grad():
            return loaded.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, repetition_penalty=1.0,
                                         pad_token_id=loaded.tokenizer.pad_token_id)

    bare(8)  # warm-up, both sides share it
    results = {"ours": {"ttft_s": [], "tokens_per_s": []}, "bare generate": {"ttft_s": [], "tokens_per_s": []}}
    for run in range(runs):
        started = time.perf_counter()
        bare(1)
        results["bare generate"]["ttft_s"].append(time.perf_counter() - started)
        started = time.perf_counter()
        output = bare(new_tokens)
        elapsed = time.perf_counter() - started
        generated = output.shape[1] - prompt_length
        results["bare generate"]["tokens_per_s"].append(generated / elapsed)
        bare_text = loaded.tokenizer.decode(output[0, prompt_length:], skip_special_tokens=True).strip()

        started, first, text = time.perf_counter(), None, ""
        for piece in playground.stream_chat(model_id, messages, settings):
            first, text = first or time.perf_counter() - started, piece
        elapsed = time.perf_counter() - started
        if text != bare_text:
            raise RuntimeError(f"the two sides generated different text:\n{text!r}\n{bare_text!r}")
        results["ours"]["ttft_s"].append(first)
        results["ours"]["tokens_per_s"].append(generated / elapsed)
        print(f"run {run}: bare {results['bare generate']['tokens_per_s'][-1]:.1f} tokens/s, ours "
              f"{results['ours']['tokens_per_s'][-1]:.1f} tokens/s ({generated} tokens)", flush=True)
    return results


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """Medians, min, max; the ratio is the median of the run-by-run ratios (each pair ran back to back)."""
    rows = ["| side | median TTFT s | min | max | median tokens/s | min | max | tokens/s ratio to bare (paired median) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    bare = results["bare generate"]["tokens_per_s"]
    for side in ("bare generate", "ours"):
        ttft, speed = results[side]["ttft_s"], results[side]["tokens_per_s"]
        ratio = statistics.median(ours / base for ours, base in zip(speed, bare))
        rows.append(f"| {side} | {statistics.median(ttft):.3f} | {min(ttft):.3f} | {max(ttft):.3f} | "
                    f"{statistics.median(speed):.1f} | {min(speed):.1f} | {max(speed):.1f} | {ratio:.2f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--new-tokens", type=int, default=128)
    args = parser.parse_args()
    print(table(measure(args.runs, args.new_tokens)))


if __name__ == "__main__":
    main()
