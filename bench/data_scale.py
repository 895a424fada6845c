"""Data at scale (issue 16): a 1,000,000-row Alpaca JSON Lines file, previewed and loaded.

    python -m bench.data_scale [--rows 1000000] [--runs 3] [--workdir DIR] [--write]

Writes a deterministic Alpaca file (``alpaca-<rows>.jsonl``: seeded words, instructions of 3-18
words, an input on 40% of the rows, outputs of 5-35 words; about 260 bytes a row) into the work
folder (a temporary one unless ``--workdir``; an existing file of the same name is reused), then
measures, each side in fresh processes, interleaved run by run, with an empty data folder
(MODELFORGE_HOME) per run:

- ``preview``: ``DatasetService.preview`` as the Finetune tab calls it. "first call" is the first
  preview in a fresh process (after ``import datasets``, which the app has done by then); "warm"
  the two later calls in the same processes. The baseline is the old full preview, still
  reachable: ``data.loading.LARGE_FILE_BYTES`` raised above the file's size reads every row into
  Python objects and validates them all.
- ``load``: ``load_dataset_source`` (what training and the dataset check read). The baseline is the
  in-memory reader (every row a Python dict, then one table); then the stream into the Arrow cache
  (first load) and the cached Arrow file (a second load of the same file).

Peak RSS = the child process's maximum resident set (``getrusage``), everything included; "after
imports" is its resident set before the measured call. ``--write`` puts the table into
``bench/RESULTS.md`` (block ``data-scale``). Each measurement is one function (``measure_*``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "model", "data", "train", "answer", "question", "river", "stone", "light", "quick", "brown", "fox", "over",
    "lazy", "dog", "explain", "write", "summary", "list", "three", "ways", "improve", "sleep", "history", "city",
    "recipe", "simple", "code", "python", "function", "sort", "numbers", "describe", "weather", "today", "poem",
    "about", "the", "a", "of", "and", "to", "in", "is", "for", "with", "café", "naïve", "über", "日本", "数据",
]


def write_alpaca_jsonl(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` Alpaca rows of varied lengths, the same for the same ``rows`` and ``seed``."""
    rng = random.Random(seed)

    def words(low: int, high: int) -> str:
        return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))

    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as file:
        for index in range(rows):
            row = {"instruction": f"{words(3, 18)} ({index})", "input": words(3, 25) if rng.random() < 0.4 else "",
                   "output": words(5, 35)}
            file.write(json.dumps(row, ensure_ascii=False) + "\n")
    partial.replace(path)


def _child(argv: list[str], home: Path) -> dict:
    """Run this script's child mode in a fresh process with ``home`` as its data folder; its JSON answer."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MODELFORGE_HOME": str(home), "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-m", "bench.data_scale", "--child", *argv], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {argv} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_preview(path: Path, home: Path, baseline: bool = False, calls: int = 3) -> dict:
    """One fresh process: ``calls`` previews of ``path`` (the old full preview when ``baseline``)."""
    return _child(["preview", str(path), str(calls), "baseline" if baseline else "new"], home)


def measure_load(path: Path, home: Path, baseline: bool = False) -> dict:
    """One fresh process: one ``load_dataset_source`` of ``path`` (the in-memory reader when ``baseline``)."""
    return _child(["load", str(path), "1", "baseline" if baseline else "new"], home)


def run_child(kind: str, source: str, calls: int, side: str) -> dict:
    """The child's side: imports, then the timed calls; seconds, row counts, RSS after imports and peak RSS (MB)."""
    import resource

    import datasets  # noqa: F401 - the app has it imported before the first preview
    import psutil

    from modelforge_core.data import loading
    from modelforge_core.services.dataset_service import DatasetService
    from modelforge_core.settings import get_settings

    if side == "baseline":
        loading.LARGE_FILE_BYTES = 2**62  # every file is "small": the in-memory reader and the full preview
    service = DatasetService(get_settings())
    rss_after_imports = psutil.Process().memory_info().rss / 2**20
    seconds, rows = [], []
    for _ in range(calls):
        started = time.perf_counter()
        if kind == "preview":
            preview = service.preview(source, "text-generation")
            if not preview.ok:
                raise SystemExit(preview.message)
            rows.append([preview.num_rows, preview.checked_rows])
        else:
            rows.append([len(loading.load_dataset_source(source))] * 2)
        seconds.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": rows, "rss_after_imports_mb": rss_after_imports, "peak_rss_mb": peak}


def run(rows: int, runs: int, workdir: Path) -> dict[str, list[dict]]:
    """Interleaved: per run, the baseline and the new side of the preview, then of the load (first, then cached)."""
    path = workdir / f"alpaca-{rows}.jsonl"
    if not path.exists():
        started = time.perf_counter()
        write_alpaca_jsonl(path, rows)
        print(f"wrote {path} in {time.perf_counter() - started:.0f} s", flush=True)
    print(f"{path}: {rows:,} rows, {path.stat().st_size / 2**20:.0f} MB", flush=True)
    results: dict[str, list[dict]] = {name: [] for name in SIDES}
    for index in range(runs):
        home = workdir / f"home-{index}"
        shutil.rmtree(home, ignore_errors=True)
        results["preview-baseline"].append(measure_preview(path, home, baseline=True, calls=1))
        results["preview"].append(measure_preview(path, home))
        results["load-baseline"].append(measure_load(path, home, baseline=True))
        results["load-stream"].append(measure_load(path, home))
        results["load-cached"].append(measure_load(path, home))
        shutil.rmtree(home, ignore_errors=True)
        print(f"run {index}: " + ", ".join(f"{name} {r[-1]['seconds'][0]:.2f} s" for name, r in results.items()),
              flush=True)
    return results


SIDES = {  # name -> (what, the baseline it is compared with)
    "preview-baseline": ("preview, old full path (every row read and checked; baseline)", "preview-baseline"),
    "preview": ("preview, first call in a fresh process", "preview-baseline"),
    "load-baseline": ("load, in-memory reader (every row a dict; baseline)", "load-baseline"),
    "load-stream": ("load, streamed to the Arrow cache (first load)", "load-baseline"),
    "load-cached": ("load, the cached Arrow file (second load)", "load-baseline"),
}


def table(results: dict[str, list[dict]]) -> str:
    """One row per side (and the warm preview): median, min, max seconds, ratio, peak RSS, RSS ratio."""
    def row(what: str, seconds: list[float], peaks: list[float], base: tuple[float, float], rows: list[int]) -> str:
        median, peak = statistics.median(seconds), statistics.median(peaks)
        return (f"| {what} | {rows[0]:,} of {rows[1]:,} | {median:.2f} | {min(seconds):.2f} | {max(seconds):.2f} | "
                f"{len(seconds)} | {median / base[0]:.3f} | {peak:.0f} | {peak / base[1]:.2f} |")

    def first(name: str) -> tuple[list[float], list[float]]:
        return [r["seconds"][0] for r in results[name]], [r["peak_rss_mb"] for r in results[name]]

    lines = ["| what | rows read of total | median s | min | max | runs | time ratio to baseline | "
             "median peak RSS MB | RSS ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, (what, baseline) in SIDES.items():
        seconds, peaks = first(name)
        base_seconds, base_peaks = first(baseline)
        base = (statistics.median(base_seconds), statistics.median(base_peaks))
        checked, total = results[name][0]["rows"][0][1], results[name][0]["rows"][0][0]
        lines.append(row(what, seconds, peaks, base, [checked, total]))
        if name == "preview":
            warm = [s for r in results[name] for s in r["seconds"][1:]]
            lines.append(row("preview, warm (later calls in the same processes)", warm, peaks, base, [checked, total]))
    imports = statistics.median(r["rss_after_imports_mb"] for rs in results.values() for r in rs)
    lines.append(f"| (resident set after imports, before any call) | | | | | | | {imports:.0f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="Folder for the file and the data folders (default: a temporary one).")
    parser.add_argument("--write", action="store_true", help="Write the table into bench/RESULTS.md (block data-scale).")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)  # kind, source, calls, side
    args = parser.parse_args()
    if args.child:
        kind, source, calls, side = args.child
        print(json.dumps(run_child(kind, source, int(calls), side)))
        return
    with tempfile.TemporaryDirectory(prefix="mf-data-scale-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        body = table(run(args.rows, args.runs, workdir))
    print(body)
    if args.write:
        from bench.results import write_block

        command = "python -m bench.data_scale" + (f" --rows {args.rows}" if args.rows != 1_000_000 else "") + (
            f" --runs {args.runs}" if args.runs != 3 else "")
        write_block("data-scale", command, body)


if __name__ == "__main__":
    main()
