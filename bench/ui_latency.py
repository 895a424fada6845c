"""UI latency: from the trainer logging an event to the Finetune tab's live view yielding it.

    python -m bench.ui_latency [--steps 80]

A real training job (the demo model on the demo task, a log line every step) runs in a worker
process while this process drives the Finetune tab's own render (``ui.run_panel.RunPanel.tick``,
which the browser's timer calls every ``TICK_S`` seconds). Each event carries the wall-clock time
the worker wrote it; its latency is the time the render that shows it returns minus that.
Gradio's own hop to the browser (a websocket/SSE message) is not included.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace


def measure(steps: int = 80) -> dict[str, list[float]]:
    """Latencies in seconds by event type (train, progress, log, eval) for one job."""
    import gradio as gr

    from modelforge_core.data.samples import sample_dataset_paths
    from modelforge_core.database.database_manager import DatabaseManager
    from modelforge_core.demo import build_demo_models
    from modelforge_core.services.training_service import TrainingService
    from modelforge_core.settings import Settings
    from ui.run_panel import TICK_S, RunPanel, RunSession

    settings = Settings(home=Path(tempfile.mkdtemp(prefix="mf-latency-")))
    db = DatabaseManager(settings.database_url)
    training = TrainingService(db, settings)
    handed: list[dict] = []  # events the service has handed to the UI generator, not yet yielded

    class Recording:
        """The training service, recording each event as the UI generator receives it."""

        def __getattr__(self, name):
            return getattr(training, name)

        def events_since(self, *args, **kwargs):
            job, events, offset = training.events_since(*args, **kwargs)
            handed.extend(events)
            return job, events, offset

    with gr.Blocks():
        panel = RunPanel(SimpleNamespace(training=Recording()))
    job = training.submit({
        "task": "text-generation", "model_name": build_demo_models(settings)["causal"], "dataset": sample_dataset_paths()["sft"],
        "strategy": "sft", "compute_specs": "cpu", "max_steps": steps, "logging_steps": 1, "eval_steps": steps // 2,
        "save_steps": 10_000, "per_device_train_batch_size": 8, "learning_rate": 3e-3, "eval_split": 0.2,
    })
    latencies: dict[str, list[float]] = {}
    session = RunSession()
    try:
        panel.show(job["id"], session)
        while not session.watch.view.finished:
            time.sleep(TICK_S)
            training.dispatch()
            panel.tick(session)
            now = time.time()
            for event in handed:
                if event.get("type") in ("train", "progress", "log", "eval"):
                    latencies.setdefault(event["type"], []).append(now - event["time"])
            handed.clear()
        status = training.get_job(job["id"])["status"]
        if status != "completed":
            raise RuntimeError(f"the job ended {status}: {training.events(job['id'])[-3:]}")
    finally:
        training.close()
        db.dispose()
    return latencies


def table(latencies: dict[str, list[float]]) -> str:
    rows = ["| event | count | median s | p95 s | max s |", "|---|---:|---:|---:|---:|"]
    everything = [x for values in latencies.values() for x in values]
    for name, values in sorted(latencies.items()) + [("all", everything)]:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        rows.append(f"| {name} | {len(values)} | {statistics.median(values):.3f} | {p95:.3f} | {max(values):.3f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80)
    print(table(measure(parser.parse_args().steps)))


if __name__ == "__main__":
    main()
