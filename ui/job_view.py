"""What the Finetune tab shows of one job, built from its events: log, progress, plots, status."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

import pandas as pd

from modelforge_core.services.training_service import FINAL_JOB_STATES

MAX_LOG_LINES = 400
# Shown elsewhere (loss, perplexity in the log), a part of the loss, or a count rather than a quality measure. What
# is left is plotted: accuracies, ROUGE, exact match, F1, rewards and their margins, KL, the preference methods'
# log-probabilities (per token for ORPO and SimPO), ORPO's log odds.
NOT_PLOTTED = {
    "loss", "perplexity", "entropy", "runtime", "samples_per_second", "steps_per_second", "num_tokens",
    "model_preparation_time", "logits/chosen", "logits/rejected", "rewards/chosen", "rewards/rejected", "nll_loss",
    "log_odds_ratio", "reward_std", "frac_reward_zero_std",
}
NOT_PLOTTED_PREFIXES = ("completions/", "clip_ratio/")  # GRPO's answer lengths and clipping: counts, not quality


def plotted(name: str) -> bool:
    """Whether a logged metric (without ``eval_``) goes in the metrics plot."""
    return name not in NOT_PLOTTED and not name.startswith(NOT_PLOTTED_PREFIXES) and not name.endswith("/std")


def reward_series(event: dict) -> list[tuple[str, str]]:
    """A train event's (key, series name) pairs for the rewards plot: the mean reward, each reward function's mean
    (GRPO's and RLHF's ``rewards/<name>/mean``) and the KL."""
    per_function = [key for key in event if key.startswith("rewards/") and key.endswith("/mean")]
    return ([("reward", "mean reward")] + [(key, f"reward {key.split('/')[1]}") for key in per_function]
            + [("kl", "kl")])


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60:02d}:{seconds % 60:02d}"


@dataclass
class JobView:
    """Accumulates a job's events; ``render()`` gives the values of the tab's outputs.

    Elapsed time is the job's, over resumes (the worker's ``elapsed_s``); before the first step
    the view says which phase the run is in (starting, loading the model, preparing the data).
    """

    job_id: str
    status: str = "queued"
    step: int = 0
    total: int = 0
    elapsed: float | None = None
    eta: float | None = None
    tokens_per_s: float | None = None
    queue_position: int | None = None
    waiting_for: str = ""
    progress_time: float | None = None
    phase: str = ""
    phase_message: str = ""
    log: list[str] = field(default_factory=list)
    losses: list[dict] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)
    result: str = ""
    changes: int = 0  # counts every event that changed what the plots or the log show

    def add(self, event: dict) -> None:
        kind = event.get("type")
        stamp = time.strftime("%H:%M:%S", time.localtime(event.get("time", time.time())))
        if isinstance(event.get("elapsed_s"), (int, float)):
            self.elapsed, self.progress_time = event["elapsed_s"], event.get("time")
        if kind == "progress":
            self.step, self.total = event.get("step", 0), event.get("total_steps") or self.total
            self.eta = event.get("eta_s")
            self.tokens_per_s = event.get("tokens_per_s") or self.tokens_per_s
            self.status = "running" if self.status in ("queued", "starting") else self.status
            return
        self.changes += 1
        if kind == "phase":
            self.phase, self.phase_message = event.get("phase", ""), event.get("message", "")
            if self.phase not in ("training",):
                self.log.append(f"{stamp} {self.phase_message}")
        elif kind == "train" and event.get("loss") is not None:
            prefix = f"{event['stage']}: " if event.get("stage") else ""
            self.losses.append({"step": event["step"], "value": event["loss"], "series": f"{prefix}train loss"})
            for key, name in reward_series(event):
                if isinstance(event.get(key), (int, float)):
                    self.metrics.append({"step": event["step"], "value": event[key], "series": f"{prefix}{name}"})
            self.log.append(f"{stamp} step {event['step']}: loss {event['loss']:.4f}, lr {event.get('learning_rate') or 0:.2e}")
        elif kind == "eval":
            self._add_eval(event, stamp)
        elif kind == "queue":
            self.queue_position = event.get("position")
            self.log.append(f"{stamp} queued: position {self.queue_position}")
        elif kind in ("status", "log"):
            if kind == "status":
                self._status(event)
            if event.get("message"):
                self.log.append(f"{stamp} {event['message']}")
        elif kind == "end":
            self._end(event, stamp)
        del self.log[:-MAX_LOG_LINES]

    def _status(self, event: dict) -> None:
        self.status = event.get("status", self.status)
        if self.status in ("queued", "starting", "running"):
            self.result = ""  # a resumed job: what ended the earlier run no longer applies
        if self.status == "queued":
            self.phase, self.phase_message, self.eta = "", "", None
        elif self.status == "starting":
            self.phase, self.phase_message = "starting", "Starting the training process"
            self.progress_time = event.get("time")

    def _add_eval(self, event: dict, stamp: str) -> None:
        step = event.get("step", 0)
        prefix = f"{event['stage']}: " if event.get("stage") else ""
        if event.get("eval_loss") is not None:
            self.losses.append({"step": step, "value": event["eval_loss"], "series": f"{prefix}eval loss"})
        for key, value in event.items():
            name = key.removeprefix("eval_")
            if key.startswith("eval_") and plotted(name) and isinstance(value, (int, float)):
                self.metrics.append({"step": step, "value": value, "series": f"{prefix}{name}"})
        shown = ", ".join(
            f"{k.removeprefix('eval_')} {v:.4f}" for k, v in event.items()
            if k.startswith("eval_") and (plotted(k.removeprefix("eval_")) or k in ("eval_loss", "eval_perplexity"))
            and isinstance(v, (int, float))
        )
        self.log.append(f"{stamp} {prefix}eval @ step {step}: {shown}")

    def _end(self, event: dict, stamp: str) -> None:
        self.status = event.get("status", self.status)
        if self.status == "completed":
            self.result = f"Completed: model **{event.get('model_name')}** is in the Models tab."
            if self.total:
                self.step = self.total
        elif self.status == "failed":
            error = event.get("error") or {}
            self.result = f"Failed: {error.get('message', '')} {error.get('hint') or ''}".strip()
        else:
            self.result = f"{self.status.capitalize()}: {event.get('message', '')}"
        self.log.append(f"{stamp} {self.result}")

    # -- rendering --------------------------------------------------------------------------

    def live_elapsed(self) -> float | None:
        """The job's elapsed time, ticking on between events while it runs."""
        if self.status not in ("starting", "running", "stopping") or self.progress_time is None:
            return self.elapsed
        return (self.elapsed or 0.0) + max(time.time() - self.progress_time, 0.0)

    def percent(self) -> int:
        return int(100 * self.step / self.total) if self.total else 0

    @property
    def before_first_step(self) -> bool:
        return self.status in ("starting", "running") and self.phase in ("starting", "loading_model", "preparing_data", "first_step", "evaluating") and self.step == 0

    def status_markdown(self) -> str:
        if self.status == "queued":
            place = f", position {self.queue_position} in the queue" if self.queue_position else ""
            waits = f"; waiting for {self.waiting_for}" if self.waiting_for else ""
            return f"**Job `{self.job_id}`: queued**{place}{waits}. It starts by itself when the device is free."
        shown = "running" if self.status == "starting" else self.status  # the row's word, as the picker says it
        text = f"**Job `{self.job_id}`: {shown}**"
        if self.result:
            return f"{text}. {self.result}"
        if self.status in ("starting", "running") and self.phase_message and self.phase != "training":
            return f"{text} · {self.phase_message}…"
        return text

    def progress_html(self) -> str:
        pct = self.percent()
        speed = f" · {self.tokens_per_s:,.0f} tokens/s" if self.tokens_per_s else ""
        if self.status == "queued":
            label = f"Queued (position {self.queue_position or '?'}): waits for the running job" + (
                f"; resumes at step {self.step}" if self.step else "")
        elif self.before_first_step:
            label = f"{self.phase_message}… · elapsed {_clock(self.live_elapsed())}"
        elif self.finished and not self.total:
            label = f"No training step ran · elapsed {_clock(self.live_elapsed())}"
        else:
            left = _clock(0 if self.status == "completed" else self.eta if self.status == "running" else None)
            if self.status == "running" and self.eta is None:
                left += " (measuring the speed)"
            label = f"{self.step}/{self.total} steps ({pct}%) · elapsed {_clock(self.live_elapsed())} · left {left}{speed}"
        return (
            f'<div id="mf-progress" data-job="{html.escape(self.job_id)}" data-percent="{pct}" data-status="{html.escape(self.status)}" '
            f'data-step="{self.step}" data-total="{self.total}" data-phase="{html.escape(self.phase)}">'
            f'<div class="mf-bar"><div class="mf-fill" style="width:{pct}%"></div></div>'
            f'<div class="mf-label">{html.escape(label)}</div></div>'
        )

    def loss_frame(self) -> pd.DataFrame | None:
        return _frame(self.losses)

    def metrics_frame(self) -> pd.DataFrame | None:
        return _frame(self.metrics)

    def log_text(self) -> str:
        return "\n".join(self.log)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_JOB_STATES


def _frame(points: list[dict]) -> pd.DataFrame | None:
    """Points as a frame with fixed dtypes (the plot reads the axis types from them); None clears the plot.

    An empty frame is never sent: Gradio's plot then keeps an empty colour legend and draws later
    lines invisibly.
    """
    if not points:
        return None
    frame = pd.DataFrame(points, columns=["step", "value", "series"])
    return frame.astype({"step": "int64", "value": "float64", "series": "object"})
