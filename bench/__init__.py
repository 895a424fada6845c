"""Benchmarks: speed and memory measured against a baseline, results in bench/RESULTS.md."""
