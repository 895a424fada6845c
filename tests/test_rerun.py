"""Rerun: every model folder records what repeats it; a rerun of a demo model gives the same final metrics."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from modelforge_core.exceptions import ConfigurationError
from modelforge_core.services.rerun import rerun_model
from modelforge_core.training.reproduce import REPRODUCE_FILE

from jobs_helpers import run_to_end, wait_for_status

pytestmark = pytest.mark.timeout(900)


def test_a_rerun_of_a_demo_model_repeats_it_and_a_changed_dataset_is_said_first(services, make_config, samples, capsys):
    from modelforge_core.cli import main

    training, models, _ = services
    job = training.submit(make_config(max_steps=10, eval_steps=5, logging_steps=2, output_name="first"))
    run_to_end(training, job["id"], timeout=500)
    job = training.get_job(job["id"])
    assert job["status"] == "completed"
    model = models.get_model(job["model_id"])

    record = json.loads((Path(model["path"]) / REPRODUCE_FILE).read_text())
    assert record["config"] == model["config"] and record["seed"] == model["config"]["seed"]
    assert record["dataset"]["sha256"] == hashlib.sha256(Path(samples["sft"]).read_bytes()).hexdigest()
    assert record["dataset"]["path"] == str(Path(samples["sft"]).resolve())
    assert {"torch", "transformers", "trl", "peft", "datasets", "modelforge"} <= set(record["packages"])
    assert record["machine"]["device"] == "cpu" and record["machine"]["python"]
    assert record["command"] == f"python -m modelforge_core rerun {job['id']}"

    # the recorded command, as a user runs it: it follows the rerun, then compares the two
    assert main(record["command"].split()[3:]) == 0
    printed = capsys.readouterr().out
    assert "Config fields that differ:" in printed
    again = next(m for m in models.list_models() if m["name"] == "first-rerun")
    assert {k: v for k, v in again["config"].items() if k != "output_name"} == {
        k: v for k, v in model["config"].items() if k != "output_name"}
    for name in ("train_loss", "eval_loss", "initial_eval_loss", "steps"):
        assert again["metrics"][name] == model["metrics"][name], (name, again["metrics"], model["metrics"])

    # a dataset whose content changed since: said before anything is queued; queued only when allowed
    record["dataset"]["sha256"] = "0" * 64
    (Path(model["path"]) / REPRODUCE_FILE).write_text(json.dumps(record))
    jobs_before = len(training.list_jobs())
    with pytest.raises(ConfigurationError, match="changed since first was trained") as info:
        rerun_model(training, models, "first")
    assert "--yes" in info.value.hint and len(training.list_jobs()) == jobs_before, "nothing queued"
    allowed = rerun_model(training, models, "first", allow_changed_data=True)
    assert any("rerun on the data as it is now" in note for note in allowed["notes"])
    training.stop(allowed["job"]["id"])
    wait_for_status(training, allowed["job"]["id"], ("stopped", "completed"), timeout=300)
