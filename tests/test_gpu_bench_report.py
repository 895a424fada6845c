"""The GPU benchmark's report: runs saved in parts merge into one table, ratios against HF+LoRA."""

from __future__ import annotations

from bench.gpu_bench import merge_results, table


def _result(model: str, config: str, tokens_per_s: float, peak_gb: float) -> dict:
    return {"model": model, "config": config, "tokens_per_s": tokens_per_s, "peak_gb": peak_gb,
            "gpu": "NVIDIA H100 80GB HBM3", "flops_per_token": 2e9}


def test_a_later_run_replaces_a_case_and_fills_in_a_missing_one():
    first = {"results": [_result("llama-1b", "hf-lora", 10000, 4.0),
                         {"model": "llama-1b", "config": "unsloth-qlora", "error": "device time ran out"}]}
    second = {"results": [_result("llama-1b", "unsloth-qlora", 15000, 2.0)]}
    merged = merge_results([first, second])
    assert [(r["config"], r.get("error")) for r in merged] == [("hf-lora", None), ("unsloth-qlora", None)]
    rows = table(merged).splitlines()
    assert rows[-1].startswith("| llama-1b | unsloth-qlora | 15000 | 1.50 | 2.00 | 0.50 | 3.0% |")


def test_a_case_that_did_not_run_says_why():
    rows = table([_result("qwen-0.5b", "hf-lora", 8000, 2.0),
                  {"model": "qwen-0.5b", "config": "unsloth-lora", "error": "unsloth not installed"}]).splitlines()
    assert "not run: unsloth not installed" in rows[-1]
    assert rows[-2].startswith("| qwen-0.5b | hf-lora | 8000 | 1.00 | 2.00 | 1.00 |")
