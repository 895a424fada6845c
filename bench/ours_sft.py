"""ModelForge's side of the throughput bench: the same run through our pipeline.

``python -m bench.ours_sft MODEL TRAIN OUT STEPS ours|ours-padded`` (ours-padded: fast path off).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main() -> None:
    model, train, out, steps, side = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    from modelforge_core.schemas import TrainingConfig
    from modelforge_core.training.events import EventLog
    from modelforge_core.training.pipeline import prepare_run
    from modelforge_core.training.run_files import RunFiles

    fast = side == "ours"
    config = TrainingConfig(
        model_name=model, dataset=train, max_steps=steps, per_device_train_batch_size=4, learning_rate=1e-3,
        max_seq_length=512, lora_r=8, lora_alpha=16, lora_dropout=0.0, eval_split=0.0, logging_steps=10, save_steps=10_000,
        padding_free=fast, chunked_loss=fast,
    )
    run = RunFiles(out / "run")
    run.events.parent.mkdir(parents=True, exist_ok=True)
    events = EventLog(run.events)
    trainer = prepare_run(config, run, events).trainer  # what the worker runs, up to train()
    result = trainer.train()
    trainer.save_model(str(out / "model"))
    print(json.dumps({
        "tokens": trainer.state.num_input_tokens_seen, "runtime_s": result.metrics["train_runtime"], "adapter": str(out / "model"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # kB on Linux
    }))


if __name__ == "__main__":
    main()
