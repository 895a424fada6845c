"""Every CPU benchmark, one after the other; their tables go into ``bench/RESULTS.md``.

    python -m bench [--only NAME[,NAME...]] [--quick]

Each benchmark runs as its own process (its command is written next to its table) and prints as
it goes; the marked block of RESULTS.md that it owns is replaced by its table when it finishes.
About 15 minutes on 2 CPU cores. The GPU benchmark (``bench/gpu_bench.py``) is not run here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from .results import write_block

REPO_ROOT = Path(__file__).resolve().parent.parent

# name -> (arguments to python, arguments when --quick)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "throughput": (["-m", "bench.train_throughput", "--runs", "3", "--sides", "trl,ours"],
                   ["-m", "bench.train_throughput", "--runs", "1", "--steps", "10", "--sides", "trl,ours"]),
    "app-start": (["-m", "bench.app_start", "--runs", "5"], ["-m", "bench.app_start", "--runs", "1"]),
    "ui-latency": (["-m", "bench.ui_latency"], ["-m", "bench.ui_latency", "--steps", "20"]),
    "playground": (["-m", "bench.playground_speed"], ["-m", "bench.playground_speed", "--runs", "2", "--new-tokens", "16"]),
    "memory": (["-m", "bench.memory_check"], ["-m", "bench.memory_check", "--steps", "1"]),
    "data-scale": (["-m", "bench.data_scale"], ["-m", "bench.data_scale", "--rows", "200000", "--runs", "1"]),
    "time-estimate": (["-m", "bench.time_estimate"], ["-m", "bench.time_estimate", "--quick"]),
}


def run_one(name: str, arguments: list[str], write: bool = True) -> str:
    """Run one benchmark, echo its output, and (unless told not to) write its table into RESULTS.md."""
    command = "python " + " ".join(arguments)
    print(f"\n== {name}: {command}", flush=True)
    process = subprocess.Popen([sys.executable, *arguments], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f"{name} failed (exit {process.returncode}): {command}")
    table = "".join(line for line in lines if line.startswith("|"))
    if not table:
        raise SystemExit(f"{name} printed no table: {command}")
    if write:
        write_block(name, command, table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="Comma-separated subset of: " + ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="Tiny runs to check that every benchmark works; RESULTS.md is left alone.")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    started = time.perf_counter()
    for name in names:
        full, quick = BENCHMARKS[name]
        run_one(name, quick if args.quick else full, write=not args.quick)
    print(f"\nAll done in {time.perf_counter() - started:.0f} s." + ("" if args.quick else " Tables written to bench/RESULTS.md."))


if __name__ == "__main__":
    main()
