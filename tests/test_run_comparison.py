"""Sweeps queue one job per value; the comparison overlays their curves and names the settings that differ."""

from __future__ import annotations

import pytest

from modelforge_core.exceptions import ConfigurationError, NotFoundError
from modelforge_core.services.run_comparison import compare_runs, config_differences, curves_from_events
from modelforge_core.services.sweeps import expand_sweep, sweep_name

from jobs_helpers import run_to_end

pytestmark = pytest.mark.timeout(900)
RATES = [1e-4, 1e-3, 1e-2]


def test_a_sweep_expands_to_one_named_config_per_combination(make_config):
    base = make_config(output_name="tiny")
    configs = expand_sweep({**base, "sweep": {"learning_rate": [1e-4, 3e-4], "lora_r": [4, 8]}})
    assert [(c["learning_rate"], c["lora_r"]) for c in configs] == [(1e-4, 4), (1e-4, 8), (3e-4, 4), (3e-4, 8)]
    assert [c["output_name"] for c in configs] == ["tiny-lr0.0001-r4", "tiny-lr0.0001-r8", "tiny-lr0.0003-r4", "tiny-lr0.0003-r8"]
    assert all("sweep" not in c for c in configs)
    assert sweep_name("tiny-sft", {"num_train_epochs": 2}) == "tiny-sft-epochs2"
    for sweep, words in (
        ({"learning_rate": [1e-4], }, "a list of 2 to 8 different values"),
        ({"learning_rate": [1e-4, 1e-4]}, "a list of 2 to 8 different values"),
        ({"learning_rate": [1, 2], "lora_r": [4, 8], "seed": [1, 2]}, "one or two settings, not 3"),
        ({"dataset": ["a.jsonl", "b.jsonl"]}, "'dataset' is not a setting a sweep can vary"),
        ({"colour": [1, 2]}, "'colour' is not a setting"),
        ({"learning_rate": [1e-5 * i for i in range(1, 9)], "lora_r": [2, 4, 8]}, "makes 24 runs; at most 16"),
    ):
        with pytest.raises(ConfigurationError, match=words):
            expand_sweep({**base, "sweep": sweep})


def test_curves_keep_the_last_value_of_a_step_logged_again_and_differences_name_only_what_differs():
    events = [
        {"type": "eval", "step": 0, "eval_loss": 9.0, "eval_runtime": 0.3},
        {"type": "train", "step": 5, "loss": 8.0, "learning_rate": 1e-3, "num_tokens": 90.0},
        {"type": "train", "step": 5, "loss": 7.5, "learning_rate": 1e-3},  # again, after an out-of-memory retry
        {"type": "log", "step": 6, "message": "x"},
    ]
    assert curves_from_events(events) == {"eval_loss": [[0, 9.0]], "loss": [[5, 7.5]], "learning_rate": [[5, 1e-3]]}
    assert config_differences([{"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 1}]) == [{"field": "b", "values": [2, 3, None]}]


def test_a_sweep_of_three_learning_rates_queues_three_jobs_and_compares_them(services, make_config, capsys):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.routers import api_routes
    from modelforge_core.cli import main

    training, models, _ = services
    client = TestClient(FastAPI(routes=api_routes()))
    config = {**make_config(max_steps=10, eval_steps=5, logging_steps=2, output_name="swept"),
              "sweep": {"learning_rate": RATES}}
    answer = client.post("/api/finetune/start_training", json=config)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    ids = body["job_ids"]
    assert len(ids) == 3 and body["names"] == ["swept-lr0.0001", "swept-lr0.001", "swept-lr0.01"]
    assert [training.get_job(job_id)["config"]["learning_rate"] for job_id in ids] == RATES
    for job_id in ids:
        run_to_end(training, job_id, timeout=500)
        assert training.get_job(job_id)["status"] == "completed"

    result = compare_runs(training, models, ids)
    assert [run["label"] for run in result["runs"]] == body["names"]
    assert all(run["kind"] == "model" and run["status"] == "completed" for run in result["runs"])
    # the overlaid series: one eval-loss line per run, at the same steps, from the base model's step 0
    assert result["default_curve"] == "eval_loss"
    eval_curves = result["curves"]["eval_loss"]
    assert list(eval_curves) == body["names"]
    assert {tuple(step for step, _ in points) for points in eval_curves.values()} == {(0, 5, 10)}
    assert len({points[0][1] for points in eval_curves.values()}) == 1, "the same base model at step 0"
    assert len({points[-1][1] for points in eval_curves.values()}) == 3, "three learning rates, three results"
    assert [run["metrics"]["eval_loss"] for run in result["runs"]] == [points[-1][1] for points in eval_curves.values()]
    # what differs: the learning rate and the name, nothing else
    assert {d["field"]: d["values"] for d in result["differences"]} == {
        "learning_rate": RATES, "output_name": body["names"]}

    # the same over HTTP and from the CLI
    over_http = client.get(body["compare"]).json()
    assert over_http["differences"] == result["differences"] and over_http["curves"] == result["curves"]
    assert main(["models", "compare", *body["names"]]) == 0
    printed = capsys.readouterr().out
    assert "Config fields that differ:" in printed
    (line,) = [row for row in printed.splitlines() if row.startswith("learning_rate")]
    assert line.split() == ["learning_rate", "0.0001", "0.001", "0.01"]
    with pytest.raises(NotFoundError, match="No model or job 'nothing'"):
        compare_runs(training, models, [ids[0], "nothing"])
    with pytest.raises(ConfigurationError, match="two or more"):
        compare_runs(training, models, [ids[0], ids[0]])
