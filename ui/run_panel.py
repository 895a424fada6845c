"""The Finetune tab's run panel: Start, Stop, Resume, the job picker, and the live view of a job.

The live view is a generator that follows the job's events (the training runs in the worker
process). Each browser session follows one job at a time: picking or starting another makes the
previous generator return.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import gradio as gr

from modelforge_core.exceptions import ModelForgeException

from .context import UIContext
from .job_view import JobView

YIELD_INTERVAL_S = 0.4
HEARTBEAT_S = 0.5
ACTIVE = ("running", "stopping", "queued")


class RunPanel:
    """Owns the run components and their handlers."""

    def __init__(self, ctx: UIContext):
        self.ctx = ctx
        self._following: dict[str, str] = {}
        with gr.Row():
            self.start = gr.Button("Start", variant="primary", elem_id="mf-start")
            self.stop = gr.Button("Stop", variant="stop", elem_id="mf-stop")
            self.resume = gr.Button("Resume", elem_id="mf-resume")
        self.job = gr.Dropdown(label="Job", choices=self.job_choices(), interactive=True, elem_id="mf-job",
                               info="The job shown below; pick another to watch it.")
        self.status = gr.Markdown(elem_id="mf-status")
        self.progress = gr.HTML("", elem_id="mf-progress-box")
        self.loss_plot = gr.LinePlot(x="step", y="value", color="series", title="Loss", elem_id="mf-loss-plot", height=260)
        self.metrics_plot = gr.LinePlot(x="step", y="value", color="series", title="Eval metrics", elem_id="mf-metrics-plot", height=220)
        self.log = gr.Textbox(label="Log", lines=12, max_lines=12, autoscroll=True, interactive=False, elem_id="mf-log")

    @property
    def view_outputs(self) -> list:
        return [self.status, self.progress, self.loss_plot, self.metrics_plot, self.log, self.job]

    # -- jobs -------------------------------------------------------------------------------

    def job_choices(self) -> list[tuple[str, str]]:
        jobs = list(reversed(self.ctx.training.list_jobs()))[:30]
        return [(f"{job['id']} · {job['status']} · {_short(job['config'].get('model_name', ''))}", job["id"]) for job in jobs]

    def current_job(self) -> str | None:
        """The job a fresh page shows: a running one, else the next queued, else the newest."""
        jobs = self.ctx.training.list_jobs()
        for states in (("running", "stopping"), ("queued",)):
            for job in jobs:
                if job["status"] in states:
                    return job["id"]
        return jobs[-1]["id"] if jobs else None

    def attach(self):
        """On page load: pick the live job (or the newest) so the page re-attaches to it."""
        return gr.update(choices=self.job_choices(), value=self.current_job())

    # -- following --------------------------------------------------------------------------

    def follow(self, job_id: str | None, request: gr.Request) -> Iterator[tuple]:
        """Yield the view of ``job_id`` from its first event, live, at least every 0.5 s, until it ends."""
        if not job_id:
            yield ("No job yet: fill the form and press Start.", "", None, None, "", gr.update())
            return
        session = request.session_hash if request else "default"
        self._following[session] = job_id
        view, last = JobView(job_id), 0.0
        try:
            for event in self.ctx.training.follow(job_id, poll_interval=0.2, heartbeat=HEARTBEAT_S):
                if self._following.get(session) != job_id:
                    return
                view.add(event)
                now = time.monotonic()
                if now - last >= YIELD_INTERVAL_S or event.get("type") in ("end", "heartbeat", "status"):
                    last = now
                    yield self._render(view, gr.update(choices=self.job_choices()) if event.get("type") in ("end", "status") else gr.update())
        except ModelForgeException as exc:
            yield (f"⚠️ {exc.message}", "", None, None, "", gr.update())
            return
        yield self._render(view, gr.update(choices=self.job_choices()))

    @staticmethod
    def _render(view: JobView, job_update) -> tuple:
        return view.status_markdown(), view.progress_html(), view.loss_frame(), view.metrics_frame(), view.log_text(), job_update

    # -- actions ----------------------------------------------------------------------------

    def stop_job(self, job_id: str | None) -> str:
        if not job_id:
            return "No job selected."
        try:
            job = self.ctx.training.stop(job_id)
        except ModelForgeException as exc:
            gr.Warning(exc.message)
            return f"⚠️ {exc.message}"
        return f"**Job `{job_id}`: {job['status']}**" + (" (saving a checkpoint, then it stops)" if job["status"] == "stopping" else "")

    def resume_job(self, job_id: str | None):
        if not job_id:
            return gr.update(), "No job selected."
        try:
            job = self.ctx.training.resume(job_id)
        except ModelForgeException as exc:
            gr.Warning(exc.message)
            return gr.update(), f"⚠️ {exc.message} {exc.hint}"
        return gr.update(choices=self.job_choices(), value=job["id"]), f"**Job `{job_id}`: {job['status']}** (resuming)"


def _short(model_name: str) -> str:
    return model_name.rstrip("/").split("/")[-1]
