"""Training throughput: ModelForge's pipeline against a plain hand-written TRL SFTTrainer script.

    python -m bench.train_throughput [--runs 3] [--steps 60]

Both sides train the same random-init Llama-shaped model (about 3.7M parameters, built here), on
the same rows of the bundled Alpaca-style sample, with the same hyperparameters (LoRA r=8 on all
linear layers, batch 4, max length 512, learning rate 1e-3), interleaved run by run so that
machine drift cancels. Reported: non-padding tokens per second of training (the trainer's own
runtime), the final loss on the same held-out rows, computed by one function for both, and the
peak resident memory (RSS) of each side's process. Ours runs the worker's pipeline
(``training.pipeline.prepare_run``, then ``train()``) in a process of its own, like the worker.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

STEPS, MAX_LENGTH = 60, 512
MODEL_SHAPE = {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4}


def build_model(folder: Path) -> str:
    """A random-init Llama-shaped model with the demo tokenizer (no chat template: plain text on both sides)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from modelforge_core.demo.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    tokenizer.chat_template = None
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer), max_position_embeddings=1024, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True, **MODEL_SHAPE,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return str(folder)


def write_data(folder: Path) -> tuple[str, str]:
    """The Alpaca sample as prompt/completion rows, split 80/20 with a fixed seed."""
    import random

    from modelforge_core.data.samples import sample_dataset_paths

    rows = [json.loads(line) for line in Path(sample_dataset_paths()["text-generation"]).read_text(encoding="utf-8").splitlines() if line]
    records = [
        {"prompt": f"{r['instruction']}\n{r['input']}\n".replace("\n\n", "\n") if r.get("input") else f"{r['instruction']}\n",
         "completion": r["output"]}
        for r in rows
    ]
    random.Random(0).shuffle(records)
    cut = int(len(records) * 0.8)
    paths = []
    for name, part in (("train", records[:cut]), ("eval", records[cut:])):
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        paths.append(str(path))
    return paths[0], paths[1]


def run_side(side: str, model: str, train: str, out: Path, steps: int) -> dict:
    """One training run in a fresh process; {"tokens": non-padding tokens, "runtime_s": trainer runtime, "adapter": dir}."""
    script = Path(__file__).with_name("baseline_trl_sft.py") if side == "trl" else None
    command = (
        [sys.executable, str(script), model, train, str(out), str(steps)]
        if script else [sys.executable, "-m", "bench.ours_sft", model, train, str(out), str(steps), side]
    )
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def eval_loss(model: str, adapter: str, eval_path: str) -> float:
    """Mean cross-entropy of the completions of the held-out rows (prompt tokens not scored)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    net = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model), adapter).eval()
    total, count = 0.0, 0
    for line in Path(eval_path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
        completion = tokenizer(row["completion"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (prompt + completion)[:MAX_LENGTH]
        labels = ([-100] * len(prompt) + completion)[:MAX_LENGTH]
        with torch.no_grad():
            out = net(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
        scored = sum(1 for x in labels[1:] if x != -100)
        total += out.loss.item() * scored
        count += scored
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--sides", default="trl,ours", help="Comma-separated: trl, ours, ours-padded.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mf-throughput-"))
    model = build_model(folder / "model")
    train, held_out = write_data(folder)
    sides = args.sides.split(",")
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for run in range(args.runs):
        for side in sides:
            result = run_side(side, model, train, folder / f"{side}-{run}", args.steps)
            result["eval_loss"] = eval_loss(model, result["adapter"], held_out)
            result["tokens_per_s"] = result["tokens"] / result["runtime_s"]
            results[side].append(result)
            print(f"run {run} {side}: {result['tokens_per_s']:.0f} tokens/s, eval loss {result['eval_loss']:.4f}", flush=True)
    print()
    print(table(results, sides))


def table(results: dict[str, list[dict]], sides: list[str]) -> str:
    """Medians, min and max of tokens/s; the held-out loss and the process's peak RSS (medians)."""
    base = statistics.median(r["tokens_per_s"] for r in results[sides[0]])
    base_rss = statistics.median(r["peak_rss_mb"] for r in results[sides[0]])
    rows = [f"| side | median tokens/s | min | max | ratio to {sides[0]} | median eval loss | eval loss min-max | "
            f"median peak RSS MB | RSS ratio to {sides[0]} |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for side in sides:
        speeds = [r["tokens_per_s"] for r in results[side]]
        losses = [r["eval_loss"] for r in results[side]]
        rss = statistics.median(r["peak_rss_mb"] for r in results[side])
        rows.append(f"| {side} | {statistics.median(speeds):.0f} | {min(speeds):.0f} | {max(speeds):.0f} | "
                    f"{statistics.median(speeds) / base:.2f} | {statistics.median(losses):.4f} | "
                    f"{min(losses):.4f}-{max(losses):.4f} | {rss:.0f} | {rss / base_rss:.2f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
