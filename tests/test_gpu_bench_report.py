"""The GPU benchmark's report: runs saved in parts merge into one table, ratios against HF+LoRA."""

from __future__ import annotations

from bench.gpu_bench import merge_results, table


def _result(model: str, config: str, tokens_per_s: float, peak_gb: float) -> dict:
    return {"model": model, "config": config, "tokens_per_s": tokens_per_s, "peak_gb": peak_gb,
            "gpu": "NVIDIA H100 80GB HBM3", "flops_per_token": 2e9, "batch": 4, "accumulation": 4, "length": 1024,
            "micro_batch": 16 if config.endswith("fast") else 4, "gradient_checkpointing": not config.endswith("fast"),
            "held_out_loss": 7.5, "estimated_gb": peak_gb * 0.9}


def test_a_later_run_replaces_a_case_and_fills_in_a_missing_one():
    first = {"results": [_result("llama-1b", "hf-lora", 10000, 4.0),
                         {"model": "llama-1b", "config": "unsloth-qlora", "error": "device time ran out"}]}
    second = {"results": [_result("llama-1b", "unsloth-qlora", 15000, 2.0)]}
    merged = merge_results([first, second])
    assert [(r["config"], r.get("error")) for r in merged] == [("hf-lora", None), ("unsloth-qlora", None)]
    rows = table(merged).splitlines()
    assert rows[-1] == "| llama-1b | unsloth-qlora | 4 x 4, 1024, ckpt | 15000 | 1.50 | 2.00 | 0.50 | 1.80 | 7.5000 | 3.0% |"


def test_a_case_that_did_not_run_says_why():
    rows = table([_result("qwen-0.5b", "hf-lora", 8000, 2.0),
                  {"model": "qwen-0.5b", "config": "unsloth-lora", "error": "unsloth not installed"}]).splitlines()
    assert "not run: unsloth not installed" in rows[-1]
    assert rows[-2].startswith("| qwen-0.5b | hf-lora | 4 x 4, 1024, ckpt | 8000 | 1.00 | 2.00 | 1.00 |")


def test_the_fast_path_row_shows_the_micro_batch_it_ran_and_a_saved_run_from_before_still_reads():
    rows = table([_result("llama-1b", "hf-lora", 10000, 4.0), _result("llama-1b", "hf-lora-fast", 25000, 9.0)]).splitlines()
    assert rows[-1] == "| llama-1b | hf-lora-fast | 16 x 1, 1024 | 25000 | 2.50 | 9.00 | 2.25 | 8.10 | 7.5000 | 5.1% |"
    old = {"model": "llama-1b", "config": "hf-lora", "tokens_per_s": 12664, "peak_gb": 3.53, "gpu": "NVIDIA H100 80GB HBM3",
           "flops_per_token": 2e9, "batch": 4, "length": 1024}
    assert table([old]).splitlines()[-1] == "| llama-1b | hf-lora | 4 x 1, 1024, ckpt | 12664 | 1.00 | 3.53 | 1.00 | - | - | 2.6% |"
