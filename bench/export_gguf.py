"""Export times and file sizes per GGUF type: the demo model and SmolLM2-135M built at its real size.

For each model (random-init weights; the size and speed do not depend on training) and each type, in
one process, interleaved run by run: ``write_gguf`` (convert and write the file), the file size, and the
read back by transformers' GGUF loader (what the parity report does) with the largest logit difference
against the model on one prompt. The baseline is ``save_pretrained`` of the same model in safetensors
(the merged export's write), measured in the same loop. SmolLM2-135M is built from its stored
config.json with the demo tokenizer padded to the model's 49,152 rows (so the embedding is full size).

``python -m bench.export_gguf [--runs 3] [--write]``; ``--write`` puts the table into bench/RESULTS.md
(block ``export-gguf``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

TYPES = ("f16", "bf16", "q8_0", "q4_0")


def _models():
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from modelforge_core.demo.models import build_causal_lm
    from modelforge_core.demo.tokenizer import build_tokenizer
    from modelforge_core.hardware.catalog import CONFIG_DIR

    tokenizer = build_tokenizer()
    folder = Path(tempfile.mkdtemp(prefix="mf-bench-demo-"))
    build_causal_lm(folder)
    demo = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    values = json.loads((CONFIG_DIR / "HuggingFaceTB--SmolLM2-135M-Instruct.json").read_text(encoding="utf-8"))
    values = {k: v for k, v in values.items() if k not in ("architectures", "torch_dtype", "transformers_version")}
    config = AutoConfig.for_model(values.pop("model_type"), **values)
    torch.manual_seed(0)
    smol = AutoModelForCausalLM.from_config(config).eval()
    return tokenizer, {"demo model (0.6M params)": demo, "SmolLM2-135M, real size (135M params)": smol}


def _logit_gap(model, read, tokenizer) -> float:
    import torch

    ids = torch.tensor([tokenizer("<|user|>\nSpell the last digit of 19782.<|end|>\n<|assistant|>\n")["input_ids"]])
    with torch.no_grad():
        return float((model(ids).logits - read(ids).logits.float()).abs().max())


def measure(model, tokenizer, kind: str, folder: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from modelforge_core.export.gguf_writer import write_gguf

    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if kind == "safetensors":
        model.save_pretrained(folder, safe_serialization=True)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "bytes": sum(p.stat().st_size for p in folder.glob("*.safetensors"))}
    path = folder / f"m-{kind}.gguf"
    written = write_gguf(model, tokenizer, path, kind, "bench")
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    read = AutoModelForCausalLM.from_pretrained(folder, gguf_file=path.name, dtype=torch.float32).eval()
    read_seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": written.bytes, "read_seconds": read_seconds, "gap": _logit_gap(model, read, tokenizer)}


def run(runs: int) -> dict:
    import shutil

    tokenizer, models = _models()
    results = {name: {kind: [] for kind in ("safetensors", *TYPES)} for name in models}
    for index in range(runs):
        for name, model in models.items():
            for kind in results[name]:
                folder = Path(tempfile.mkdtemp(prefix="mf-bench-export-"))
                try:
                    results[name][kind].append(measure(model, tokenizer, kind, folder))
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
                print(f"run {index}, {name}, {kind}: {results[name][kind][-1]}", flush=True)
    return results


def table(results: dict) -> str:
    lines = ["| model | written as | median s | min | max | time ratio to safetensors | file MB | size ratio | "
             "transformers reads it, s | largest logit difference | runs |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, kinds in results.items():
        base_s = statistics.median(r["seconds"] for r in kinds["safetensors"])
        base_b = kinds["safetensors"][0]["bytes"]
        for kind, rs in kinds.items():
            seconds = [r["seconds"] for r in rs]
            what = "safetensors, float32 (the merged export; baseline)" if kind == "safetensors" else f"GGUF {kind.upper()}"
            read = f"{statistics.median(r['read_seconds'] for r in rs):.2f}" if kind != "safetensors" else ""
            gap = f"{statistics.median(r['gap'] for r in rs):.3g}" if kind != "safetensors" else ""
            lines.append(f"| {name} | {what} | {statistics.median(seconds):.2f} | {min(seconds):.2f} | {max(seconds):.2f} | "
                         f"{statistics.median(seconds) / base_s:.2f} | {rs[0]['bytes'] / 2**20:.1f} | {rs[0]['bytes'] / base_b:.3f} | "
                         f"{read} | {gap} | {len(rs)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="Write the table into bench/RESULTS.md (block export-gguf).")
    args = parser.parse_args()
    body = table(run(args.runs))
    print(body)
    if args.write:
        from bench.results import write_block

        write_block("export-gguf", "python -m bench.export_gguf" + (f" --runs {args.runs}" if args.runs != 3 else ""), body)


if __name__ == "__main__":
    main()
