"""The Finetune tab's run panel: Start, Stop, Resume, the job picker, and the live view of one job.

One place holds the job a browser session shows: its ``RunSession``, kept in the panel's
``gr.State`` (Gradio gives each session its own and drops it when the session ends). Start and the
picker set it, Stop and Resume act on it, and a timer renders it every half second from the job's
event file (the training runs in the worker process). A render that finds the session showing
another job meanwhile sends nothing, so two jobs never write into one panel.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import gradio as gr

from modelforge_core.exceptions import ModelForgeException
from modelforge_core.services.training_service import ACTIVE_JOB_STATES

from .context import UIContext
from .errors import error_text
from .job_view import JobView
from .line_chart import line_chart_html

TICK_S = 0.5
MAX_CHOICES = 30
# Keeps the log's newest line in view unless the user scrolled up to read (then leaves it there).
FOLLOW_LOG_JS = """() => {
  const box = document.querySelector('#mf-log textarea');
  if (!box) return;
  if (!box.dataset.mfFollow) {
    box.dataset.mfFollow = 'yes';
    box.addEventListener('scroll', () => {
      box.dataset.mfFollow = box.scrollTop + box.clientHeight >= box.scrollHeight - 8 ? 'yes' : 'no';
    });
  }
  if (box.dataset.mfFollow === 'yes') requestAnimationFrame(() => { box.scrollTop = box.scrollHeight; });
}"""


@dataclass
class RunWatch:
    """What one session shows of one job: its view and how far its event file has been read."""

    job_id: str
    view: JobView
    offset: int = 0
    drawn: int = -1  # view.changes when the plots and the log were last sent
    sent: tuple = ()  # the status and progress last sent
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class RunSession:
    """The job one browser session shows. Showing a job replaces the watch, so a render still holding
    the old one can tell that the session switched meanwhile."""

    watch: RunWatch | None = None
    sweep: list[str] = field(default_factory=list)  # the job ids of the last sweep this session started

    def show(self, job_id: str | None) -> RunWatch | None:
        self.watch = RunWatch(job_id, JobView(job_id)) if job_id else None
        return self.watch

    @property
    def job_id(self) -> str | None:
        return self.watch.job_id if self.watch else None


def _state(job: dict) -> str:
    """A job's state for the picker; a queued job with its place (1 = next to start)."""
    place = job.get("queue_position")
    return f"queued #{place}" if job["status"] == "queued" and place else job["status"]


def _short(model_name: str) -> str:
    return model_name.rstrip("/").split("/")[-1]


class RunPanel:
    """Owns the run components and their handlers; ``session`` is each browser session's ``RunSession``."""

    def __init__(self, ctx: UIContext):
        self.ctx = ctx
        self.session = gr.State(RunSession())
        with gr.Row():
            self.start = gr.Button("Start", variant="primary", elem_id="mf-start")
            self.stop = gr.Button("Stop", variant="stop", elem_id="mf-stop")
            self.resume = gr.Button("Resume", elem_id="mf-resume")
        self.notice = gr.Markdown(elem_id="mf-run-notice")
        self.job = gr.Dropdown(label="Job", choices=self.job_choices(), interactive=True, elem_id="mf-job",
                               info="The job shown below; Stop and Resume act on it. Pick another to watch it.")
        self.status = gr.Markdown(elem_id="mf-status")
        self.progress = gr.HTML("", elem_id="mf-progress-box")
        self.loss_plot = gr.HTML(line_chart_html([], "Loss", "mf-loss"), elem_id="mf-loss-plot")
        self.metrics_plot = gr.HTML(line_chart_html([], "Eval metrics", "mf-metrics"), elem_id="mf-metrics-plot")
        self.log = gr.Textbox(label="Log", lines=12, max_lines=12, autoscroll=True, interactive=False, elem_id="mf-log")
        self.timer = gr.Timer(TICK_S)

    @property
    def view_outputs(self) -> list:
        return [self.status, self.progress, self.loss_plot, self.metrics_plot, self.log, self.job]

    # -- jobs -------------------------------------------------------------------------------

    def job_choices(self, jobs: list[dict] | None = None, include: str | None = None) -> list[tuple[str, str]]:
        """The newest jobs, newest first, and ``include`` (the shown job) even when it is older."""
        jobs = list(reversed(self.ctx.training.list_jobs() if jobs is None else jobs))
        picked = jobs[:MAX_CHOICES] + [job for job in jobs[MAX_CHOICES:] if job["id"] == include]
        return [(f"{job['id']} · {_state(job)} · {_short(job['config'].get('model_name', ''))}", job["id"]) for job in picked]

    def current_job(self) -> str | None:
        """The job a fresh page shows: a running one, else the next queued, else the newest."""
        jobs = self.ctx.training.list_jobs()
        for states in (ACTIVE_JOB_STATES, ("queued",)):
            for job in jobs:
                if job["status"] in states:
                    return job["id"]
        return jobs[-1]["id"] if jobs else None

    # -- rendering --------------------------------------------------------------------------

    def show(self, job_id: str | None, session: RunSession) -> tuple:
        """Make ``job_id`` the session's shown job and render it from its first event."""
        session.show(job_id)
        return self.render(session, force=True)

    def attach(self, session: RunSession) -> tuple:
        """On page load: show the live job (or the newest), so a reloaded page re-attaches to it."""
        return self.show(self.current_job(), session)

    def tick(self, session: RunSession) -> tuple:
        return self.render(session)

    def render(self, session: RunSession, force: bool = False) -> tuple:
        """The view outputs of the session's job; unchanged ones as ``gr.skip()`` unless ``force``."""
        watch = session.watch
        if watch is None:
            if not force:
                return tuple(gr.skip() for _ in self.view_outputs)
            return ("No job yet: fill the form and press Start.", "", line_chart_html([], "Loss", "mf-loss"),
                    line_chart_html([], "Eval metrics", "mf-metrics"), "", gr.update(choices=self.job_choices(), value=None))
        with watch.lock:
            try:
                job, events, watch.offset = self.ctx.training.events_since(watch.job_id, watch.offset)
            except ModelForgeException as exc:
                return (error_text(exc), "", gr.skip(), gr.skip(), "", gr.update(choices=self.job_choices(), value=None))
            view = watch.view
            before = (view.status, view.queue_position)
            for event in events:
                view.add(event)
            # the job list (one query) only when it is shown: what a queued job waits for, or new picker labels
            jobs = self.ctx.training.list_jobs() if job["status"] == "queued" or view.status == "queued" else None
            self._queue_details(view, job, jobs or [])
            if session.watch is not watch:  # the session switched jobs meanwhile
                return tuple(gr.skip() for _ in self.view_outputs)
            redraw = force or view.changes != watch.drawn
            watch.drawn = view.changes
            choices_changed = force or before != (view.status, view.queue_position) or any(e.get("type") in ("status", "end") for e in events)
            texts = (view.status_markdown(), view.progress_html())
            fresh = force or texts != watch.sent
            watch.sent = texts
            return (
                *(text if fresh else gr.skip() for text in texts),
                line_chart_html(view.losses, "Loss", "mf-loss") if redraw else gr.skip(),
                line_chart_html(view.metrics, "Eval metrics", "mf-metrics") if redraw else gr.skip(),
                view.log_text() if redraw else gr.skip(),
                gr.update(choices=self.job_choices(jobs, include=watch.job_id), value=watch.job_id) if choices_changed else gr.skip(),
            )

    @staticmethod
    def _queue_details(view: JobView, job: dict, jobs: list[dict]) -> None:
        """States no event announces (stopping) come from the row; a queued job also says what it waits for."""
        if job["status"] in ("queued", "stopping"):
            view.status = job["status"]
        view.queue_position = job.get("queue_position")
        if job["status"] != "queued":
            view.waiting_for = ""
            return
        running = [j for j in jobs if j["status"] in ACTIVE_JOB_STATES]
        ahead = (view.queue_position or 1) - 1
        parts = [f"job `{j['id']}` ({j['status']}, step {j.get('current_step') or 0}/{j.get('total_steps') or '?'})" for j in running]
        if ahead:
            parts.append(f"{ahead} queued job{'s' if ahead > 1 else ''} before it")
        view.waiting_for = " and ".join(parts) or "the device to be free"

    # -- actions ----------------------------------------------------------------------------

    def stop_job(self, session: RunSession) -> str:
        """Stop the shown job: a queued one leaves the queue; a running one saves a checkpoint and stops."""
        job_id = session.job_id
        if not job_id:
            return "No job shown: nothing to stop."
        try:
            before = self.ctx.training.get_job(job_id)["status"]
            job = self.ctx.training.stop(job_id)
        except ModelForgeException as exc:
            gr.Warning(error_text(exc, mark=False))
            return error_text(exc)
        if before == "queued":
            message = f"Job `{job_id}` was taken out of the queue; it had not started."
        elif job["status"] == "stopping":
            message = f"Stopping job `{job_id}`: saving a checkpoint, then it stops (Resume continues from it)."
        else:
            message = f"Job `{job_id}` is {job['status']}."
        gr.Info(message.replace("`", ""))
        return message

    def resume_job(self, session: RunSession) -> str:
        """Queue the shown job again; it continues from its last checkpoint."""
        job_id = session.job_id
        if not job_id:
            return "No job shown: nothing to resume."
        try:
            job = self.ctx.training.resume(job_id)
        except ModelForgeException as exc:
            gr.Warning(error_text(exc, mark=False))
            return error_text(exc)
        where = f", position {job['queue_position']} in the queue" if job["status"] == "queued" and job.get("queue_position") else ""
        return f"Resuming job `{job_id}` from its last checkpoint{where}."

    def wire(self) -> None:
        """Events that need only the panel; Start is wired by the tab (it reads the form)."""
        session = self.session
        self.timer.tick(self.tick, session, self.view_outputs, show_progress="hidden", trigger_mode="once", api_visibility="private")
        self.log.change(None, None, None, js=FOLLOW_LOG_JS)
        self.job.input(self.show, [self.job, session], self.view_outputs, show_progress="hidden", api_name="show_job")
        self.stop.click(self.stop_job, session, self.notice, api_name="stop").then(
            self.tick, session, self.view_outputs, show_progress="hidden"
        )
        self.resume.click(self.resume_job, session, self.notice, api_name="resume").then(
            self.tick, session, self.view_outputs, show_progress="hidden"
        )
