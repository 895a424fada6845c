"""The run view's parts without a browser: job clock, time left, phases, the chart, one shown job per session."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import gradio as gr

from modelforge_core.training.job_clock import JobClock, StepRate
from ui.finetune_form import config_to_form_values, values_to_config_dict
from ui.job_view import JobView
from ui.line_chart import line_chart_html, nice_ticks
from ui.run_panel import RunPanel, RunSession


def test_job_clock_goes_on_from_the_earlier_runs_of_a_resumed_job():
    events = [
        {"type": "status", "status": "starting", "time": 100.0},
        {"type": "progress", "step": 40, "elapsed_s": 75.5, "time": 175.0},
        {"type": "end", "status": "stopped", "time": 176.0},
        {"type": "status", "status": "queued", "time": 300.0},
        {"type": "status", "status": "starting", "time": 310.0},
    ]
    clock = JobClock.from_events(events)
    assert clock.prior_s == 75.5 and clock.started_at == 310.0
    assert clock.elapsed() > 75.5
    assert JobClock.from_events([]).prior_s == 0.0


def test_time_left_waits_for_a_steady_rate_and_leaves_out_the_warm_up_step():
    rate = StepRate(min_steps=5, min_seconds=2.0)
    rate.add(0, now=0.0)  # training begins
    rate.add(1, now=30.0)  # the first step carries 30 s of warm-up
    for step in range(2, 6):
        rate.add(step, now=30.0 + (step - 1))
        assert rate.seconds_left(step, 100) is None, "not from the first few steps"
    rate.add(6, now=35.0)
    assert rate.seconds_per_step() == 1.0, "the warm-up step is not in the rate"
    assert rate.seconds_left(6, 100) == 94.0
    rate.restart()
    assert rate.seconds_left(6, 100) is None


def test_job_view_says_the_phase_before_the_first_step_then_the_steps():
    view = JobView("j1")
    view.add({"type": "status", "status": "starting", "message": "Training process started", "time": 10.0})
    assert "Starting the training process" in view.status_markdown()
    view.add({"type": "phase", "phase": "loading_model", "message": "Loading the model demo", "elapsed_s": 3.0, "time": 13.0})
    assert "Loading the model demo" in view.status_markdown() and "Loading the model demo" in view.progress_html()
    assert "0/0 steps" not in view.progress_html()
    view.add({"type": "status", "status": "running", "message": "Training started", "time": 20.0})
    view.add({"type": "phase", "phase": "training", "message": "Training", "elapsed_s": 11.0, "time": 21.0})
    view.add({"type": "progress", "step": 3, "total_steps": 100, "elapsed_s": 12.0, "eta_s": None, "time": 22.0})
    assert "3/100 steps" in view.progress_html() and "measuring the speed" in view.progress_html()
    view.add({"type": "progress", "step": 10, "total_steps": 100, "elapsed_s": 15.0, "eta_s": 90.0, "time": 25.0})
    assert "left 01:30" in view.progress_html()


def test_a_resumed_job_drops_the_old_result_and_counts_elapsed_over_the_job():
    view = JobView("j1")
    view.add({"type": "progress", "step": 178, "total_steps": 600, "elapsed_s": 200.0, "time": 1.0})
    view.add({"type": "end", "status": "stopped", "message": "Stopped at step 178; checkpoint kept.", "time": 2.0})
    assert "Stopped at step 178" in view.status_markdown()
    view.add({"type": "status", "status": "queued", "message": "Resuming from checkpoint-178", "time": 3.0})
    assert "Stopped at step 178" not in view.status_markdown() and "queued" in view.status_markdown()
    view.add({"type": "status", "status": "starting", "message": "Training process started", "time": 4.0})
    view.add({"type": "progress", "step": 180, "total_steps": 600, "elapsed_s": 215.0, "time": 20.0})
    assert view.elapsed == 215.0 and "Stopped" not in view.status_markdown()


def test_a_queued_view_shows_its_place_and_what_it_waits_for():
    view = JobView("j2", status="queued", queue_position=2, waiting_for="job `j1` (running, step 40/600)")
    text = view.status_markdown()
    assert "position 2 in the queue" in text and "j1" in text and "starts by itself" in text
    assert "Queued (position 2)" in view.progress_html()


def test_the_chart_draws_a_series_that_appears_after_the_first_one():
    points = [{"step": 0, "value": 8.9, "series": "eval loss"}]
    assert 'data-series="eval loss"' in line_chart_html(points, "Loss", "x")
    points += [{"step": 10, "value": 7.0, "series": "train loss"}, {"step": 20, "value": 5.0, "series": "train loss"}]
    chart = line_chart_html(points, "Loss", "x")
    assert 'data-series="train loss" data-points="2" data-first-step="10"' in chart
    assert 'data-series-count="2"' in chart
    assert "No points yet" in line_chart_html([], "Loss", "x")
    assert "nan" not in line_chart_html([{"step": 1, "value": float("nan"), "series": "s"}], "Loss", "x")


def test_nice_ticks_cover_the_range_with_round_values():
    assert nice_ticks(0.12, 8.9) == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert nice_ticks(0, 600, 6, whole=True) == [0, 200, 400, 600]
    assert nice_ticks(0, 0, 6, whole=True) == [0, 1]


def test_each_session_shows_one_job_in_its_own_gradio_state():
    """Gradio deep-copies a gr.State's value for each session and drops it when the session ends."""
    panel, _ = _panel()
    assert isinstance(panel.session, gr.State)
    mine, other = copy.deepcopy(panel.session.value), copy.deepcopy(panel.session.value)
    assert mine is not other and mine.watch is None
    first = mine.show("j1")
    assert mine.watch is first and mine.job_id == "j1"
    assert mine.show("j2").job_id == "j2" and mine.watch is not first
    assert other.job_id is None, "another session still shows nothing"
    assert mine.show(None) is None and mine.job_id is None


class _Training:
    """Enough of TrainingService for the panel; ``during_read`` runs while a render reads events."""

    def __init__(self):
        self.during_read = None
        self.jobs = {
            "j1": {"id": "j1", "status": "running", "config": {"model_name": "/m/demo"}, "current_step": 40, "total_steps": 600,
                   "queue_position": None, "created_at": "1"},
            "j2": {"id": "j2", "status": "queued", "config": {"model_name": "/m/demo"}, "queue_position": 1, "created_at": "2"},
        }

    def list_jobs(self, statuses=None):
        return list(self.jobs.values())

    def events_since(self, job_id, offset):
        if self.during_read:
            self.during_read()
        return self.jobs[job_id], [{"type": "status", "status": self.jobs[job_id]["status"], "time": 1.0}], offset + 1


def _panel() -> tuple[RunPanel, _Training]:
    training = _Training()
    with gr.Blocks():
        panel = RunPanel(SimpleNamespace(training=training))
    return panel, training


def test_the_panel_renders_the_shown_job_and_a_queued_one_says_what_it_waits_for():
    panel, _ = _panel()
    session = RunSession()
    status, progress, *_rest, picker = panel.show("j2", session)
    assert "position 1 in the queue" in status and "job `j1` (running, step 40/600)" in status
    assert picker["value"] == "j2", "the picker shows the job on screen"
    assert session.job_id == "j2"


def test_a_render_that_finds_the_session_switched_meanwhile_sends_nothing():
    panel, training = _panel()
    session = RunSession()
    panel.show("j1", session)
    training.during_read = lambda: session.show("j2")  # the user picks j2 while j1 renders
    assert all(out == gr.skip() for out in panel.tick(session))
    training.during_read = None
    status, *_ = panel.tick(session)
    assert "j2" in status


def test_a_jobs_config_comes_back_as_form_values():
    config = {"model_name": "/m", "learning_rate": 0.003, "max_steps": 200, "eval_steps": None,
              "target_modules": ["q_proj", "v_proj"], "column_mapping": {"q": "instruction"}, "output_name": None}
    values = config_to_form_values(config)
    assert values["target_modules"] == "q_proj, v_proj" and values["eval_steps"] == 0 and values["output_name"] == ""
    back = values_to_config_dict(values)
    assert back["target_modules"] == ["q_proj", "v_proj"] and back["column_mapping"] == {"q": "instruction"}
    assert back["max_steps"] == 200 and "eval_steps" not in back and "output_name" not in back


def test_the_picker_keeps_the_shown_job_among_its_choices_when_it_is_old():
    panel, training = _panel()
    for n in range(40):
        training.jobs[f"new{n}"] = {"id": f"new{n}", "status": "completed", "config": {"model_name": "/m/demo"}}
    training.jobs = {"j1": training.jobs.pop("j1"), **training.jobs}  # j1 is the oldest
    ids = [value for _, value in panel.job_choices(include="j1")]
    assert "j1" in ids and len(ids) == 31
    assert "j1" not in [value for _, value in panel.job_choices()]


def test_a_tick_with_nothing_new_sends_nothing_and_reads_no_job_list():
    panel, training = _panel()
    session = RunSession()
    panel.show("j1", session)
    training.events_since = lambda job_id, offset: (training.jobs[job_id], [], offset)
    training.list_jobs = lambda statuses=None: (_ for _ in ()).throw(AssertionError("no job list for a running job"))
    assert all(out == gr.skip() for out in panel.tick(session))
