"""The dataset check at scale (issue 16): a 1,000,000-row Alpaca file checked twice, and what the token cache saves.

    python -m bench.data_check [--rows 1000000] [--runs 1] [--workdir DIR] [--write]

Uses the file ``bench.data_scale`` writes (the same seeded rows; reused when it exists in the work
folder) and the offline demo causal model (built into the data folder first). Per run, with an empty
data folder, in fresh processes one after the other:

- ``check, first``: ``check_dataset`` as ``data check`` and the Finetune tab run it (max_seq_length
  64): every row read, validated, fingerprinted, split, tokenized with the chat template and masked
  (one process per core for a dataset this large), counted. The baseline.
- ``check, second``: the same check again on the same data folder: the file's Arrow copy and the
  tokenized rows come from their caches, which is what a training run after a check (or a second
  run of the same data) reads.

For each: seconds, the seconds spent in ``tokenize_sft_rows`` (the tokenization a run does before
its first step), the process's peak RSS and its tokenizing workers' peak RSS (``getrusage``).
``--write`` puts the table into ``bench/RESULTS.md`` (block ``data-check``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.data_scale import write_alpaca_jsonl

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_SEQ_LENGTH = 64


def _child(source: Path, home: Path) -> dict:
    """One fresh process with ``home`` as its data folder: one check of ``source``; its JSON answer."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MODELFORGE_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "bench.data_check", "--child", str(source)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_check(source: Path, home: Path) -> dict:
    """One fresh process: ``check_dataset`` of ``source`` with the demo model."""
    return _child(source, home)


def run_child(source: str) -> dict:
    """The child's side: the timed check, the time inside tokenize_sft_rows, peak RSS of self and workers (MB)."""
    import resource

    import datasets

    from modelforge_core.data import check
    from modelforge_core.demo import build_demo_models
    from modelforge_core.schemas import TrainingConfig
    from modelforge_core.settings import get_settings
    from modelforge_core.strategies import sft_strategy

    datasets.disable_progress_bars()
    model = build_demo_models(get_settings())["causal"]
    tokenizing = []
    real = sft_strategy.tokenize_sft_rows

    def timed(*args, **kwargs):
        started = time.perf_counter()
        result = real(*args, **kwargs)
        tokenizing.append(time.perf_counter() - started)
        return result

    sft_strategy.tokenize_sft_rows = timed
    started = time.perf_counter()
    report = check.check_dataset(TrainingConfig(model_name=model, dataset=source, max_seq_length=MAX_SEQ_LENGTH))
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(report.message)
    return {
        "seconds": seconds, "tokenize_seconds": sum(tokenizing), "rows": report.rows,
        "truncated": sum(split["truncated"] for split in report.splits.values()),
        "dropped": sum(split["dropped"] for split in report.splits.values()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run(rows: int, runs: int, workdir: Path) -> dict[str, list[dict]]:
    path = workdir / f"alpaca-{rows}.jsonl"
    if not path.exists():
        write_alpaca_jsonl(path, rows)
    print(f"{path}: {rows:,} rows, {path.stat().st_size / 2**20:.0f} MB", flush=True)
    results: dict[str, list[dict]] = {"first": [], "second": []}
    for index in range(runs):
        home = workdir / f"check-home-{index}"
        shutil.rmtree(home, ignore_errors=True)
        for side in results:
            results[side].append(measure_check(path, home))
            print(f"run {index}, check {side}: {results[side][-1]}", flush=True)
        shutil.rmtree(home, ignore_errors=True)
    return results


def table(results: dict[str, list[dict]]) -> str:
    base = statistics.median(r["seconds"] for r in results["first"])
    base_tokens = statistics.median(r["tokenize_seconds"] for r in results["first"])
    lines = ["| what | rows | median s | ratio | tokenizing s | ratio | peak RSS MB | workers' peak RSS MB | runs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"first": "check, first (tokenizes every row; baseline)", "second": "check, second (tokens from the cache)"}
    for side, what in names.items():
        rs = results[side]
        seconds, tokens = statistics.median(r["seconds"] for r in rs), statistics.median(r["tokenize_seconds"] for r in rs)
        lines.append(
            f"| {what} | {rs[0]['rows']:,} | {seconds:.1f} | {seconds / base:.3f} | {tokens:.1f} | {tokens / base_tokens:.3f} | "
            f"{statistics.median(r['peak_rss_mb'] for r in rs):.0f} | {statistics.median(r['workers_peak_rss_mb'] for r in rs):.0f} | {len(rs)} |"
        )
    first = results["first"][0]
    lines.append(f"\nBoth checks report {first['truncated']:,} rows truncated and {first['dropped']:,} dropped at "
                 f"max_seq_length {MAX_SEQ_LENGTH}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="Folder for the file and the data folders (default: a temporary one).")
    parser.add_argument("--write", action="store_true", help="Write the table into bench/RESULTS.md (block data-check).")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child)))
        return
    with tempfile.TemporaryDirectory(prefix="mf-data-check-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        body = table(run(args.rows, args.runs, workdir))
    print(body)
    if args.write:
        from bench.results import write_block

        command = "python -m bench.data_check" + (f" --rows {args.rows}" if args.rows != 1_000_000 else "") + (
            f" --runs {args.runs}" if args.runs != 1 else "")
        write_block("data-check", command, body)


if __name__ == "__main__":
    main()
