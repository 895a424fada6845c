"""The Models tab: the registry; a model's details and curves; open in Playground, evaluate, export,
download the adapter, push to the Hub, rename, delete; compare runs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from modelforge_core.exceptions import ModelForgeException
from modelforge_core.services.export_service import safe_stem
from modelforge_core.services.rerun import rerun_model

from .compare_panel import ComparePanel
from .context import UIContext
from .errors import WARNING_MARK, error_text
from .export_panel import ExportPanel, report_markdown
from .job_view import JobView
from .playground_tab import model_choices

KEY_METRICS = ("eval_loss", "perplexity", "rougeL", "f1", "reward_accuracy", "reward_model_accuracy")
MAX_MESSAGES = 5  # action messages kept in the result area, newest first
MESSAGE_SEPARATOR = "\n\n---\n\n"


def models_table(ctx: UIContext) -> pd.DataFrame:
    rows = []
    for m in ctx.models.list_models():
        metrics = m.get("metrics") or {}
        rows.append({
            "name": m["name"], "base model": Path(m["base_model"]).name or m["base_model"], "task": m["task"],
            "strategy": m["strategy"], "provider": m["provider"], "created": m["created_at"][:16].replace("T", " "),
            "key metrics": ", ".join(f"{k} {metrics[k]:.4g}" for k in KEY_METRICS if isinstance(metrics.get(k), (int, float))),
            "id": m["id"],
        })
    return pd.DataFrame(rows, columns=["name", "base model", "task", "strategy", "provider", "created", "key metrics", "id"])


def _md(text: str) -> str:
    """``text`` with Markdown's special characters escaped (a model name shown in bold)."""
    return "".join(f"\\{c}" if c in "\\`*_[]<>|#" else c for c in str(text))


def format_number(value) -> str:
    """4 significant digits for floats, integers as integers (with thousands separators)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    rounded = float(f"{value:.4g}")
    if rounded.is_integer() and abs(rounded) >= 1:
        return f"{int(rounded):,}"
    return f"{value:.4g}"


def metrics_markdown(metrics: dict | None) -> str:
    """The final metrics as a table: each metric at the start of training (``initial_*``) and at the end."""
    metrics = metrics or {}
    names = list(dict.fromkeys(k.removeprefix("initial_") for k in metrics))
    if not names:
        return "No metrics were recorded."
    lines = ["| metric | start of training | end of training |", "|---|---:|---:|"]
    for name in names:
        start, end = metrics.get(f"initial_{name}"), metrics.get(name)
        lines.append(f"| {_md(name)} | {format_number(start)} | {format_number(end)} |")
    return "\n".join(lines)


def add_message(history: list[str] | None, message: str) -> tuple[str, list[str]]:
    """Put ``message`` first in the kept action messages; the result area's text and the new list."""
    kept = [message, *(history or [])][:MAX_MESSAGES]
    return MESSAGE_SEPARATOR.join(kept), kept


class ModelsTab:
    """Components and handlers; ``open_in_playground`` is wired by the app to switch tabs."""

    def __init__(self, ctx: UIContext):
        self.ctx = ctx
        self.table = gr.Dataframe(models_table(ctx), interactive=False, elem_id="mf-models-table", wrap=True)
        with gr.Row():
            self.model = gr.Dropdown(model_choices(ctx), label="Model", elem_id="mf-models-model", scale=4)
            self.refresh = gr.Button("Refresh", size="sm", scale=1)
        self.result = gr.Markdown(elem_id="mf-models-result")
        self.messages = gr.State([])  # this session's latest action messages, newest first
        with gr.Tabs() as self.sections:
            with gr.Tab("Details", id="details"):
                gr.Markdown("**Final metrics**")
                self.metrics = gr.Markdown(elem_id="mf-models-metrics")
                self.curves = gr.LinePlot(x="step", y="value", color="series", title="Loss during training", height=240)
                self.config = gr.Code(language="json", label="Config")
                self.card = gr.Markdown(elem_id="mf-models-card")
            with gr.Tab("Actions", id="actions"):
                self.open = gr.Button("Open in Playground", variant="primary", elem_id="mf-models-open")
                with gr.Row():
                    self.eval_dataset = gr.Textbox(label="Evaluate on dataset (file path)", scale=3)
                    self.eval_samples = gr.Number(32, label="Rows", precision=0, scale=1)
                    self.evaluate = gr.Button("Evaluate", scale=1)
                self.exporting = ExportPanel(ctx)
                with gr.Row():
                    self.zip = gr.Button("Download adapter (.zip)", elem_id="mf-models-zip", scale=1)
                    self.zip_file = gr.File(label="Adapter", elem_id="mf-models-zip-file", scale=3)
                with gr.Row():
                    self.repo = gr.Textbox(label="Hub repo (your-name/model-name)", scale=2)
                    self.private = gr.Checkbox(True, label="Private")
                    self.token = gr.Textbox(label="Hub token (used once, never stored)", type="password", scale=2)
                    self.push = gr.Button("Push to Hub", scale=1)
                with gr.Row():
                    self.rerun_anyway = gr.Checkbox(label="even though the data changed", elem_id="mf-models-rerun-anyway",
                                                    scale=3)
                    self.rerun = gr.Button("Rerun (the same config, data and seed)", elem_id="mf-models-rerun", scale=1)
                with gr.Row():
                    self.new_name = gr.Textbox(label="New name", scale=3)
                    self.rename = gr.Button("Rename", scale=1)
                with gr.Row():
                    self.confirm = gr.Checkbox(label="Yes, delete this model and its files", elem_id="mf-models-confirm")
                    self.delete = gr.Button("Delete", variant="stop", elem_id="mf-models-delete")
            with gr.Tab("Compare", id="compare", elem_id="mf-models-compare-tab") as compare_tab:
                self.comparing = ComparePanel(ctx)
            compare_tab.select(self.comparing.refreshed_choices, self.comparing.pick, self.comparing.pick,
                               api_visibility="private")  # models and jobs made since the page was opened
        self._wire()

    def refreshed(self, selected: str | None = None):
        choices = model_choices(self.ctx)
        ids = [value for _, value in choices]
        return models_table(self.ctx), gr.update(choices=choices, value=selected if selected in ids else None)

    def details(self, model_id: str | None):
        if not model_id:
            return "", None, "", ""
        try:
            record = self.ctx.models.get_model(model_id)
        except ModelForgeException as exc:
            return "", None, "", error_text(exc)
        view = JobView(record.get("job_id") or "-")
        if record.get("job_id"):
            try:
                for event in self.ctx.training.events(record["job_id"]):
                    view.add(event)
            except ModelForgeException:
                pass
        card = self.ctx.models.model_card(record["id"])
        return (metrics_markdown(record["metrics"]), view.loss_frame(), json.dumps(record["config"], indent=2),
                card.body if card else "(no model card)")

    def _name(self, model_id: str | None) -> str | None:
        """The model's registered name, shown in bold; None when there is no such model."""
        try:
            return f"**{_md(self.ctx.models.get_model(model_id)['name'])}**" if model_id else None
        except ModelForgeException:
            return None

    def _act(self, model_id: str | None, history: list[str] | None, fn) -> tuple[str, list[str]]:
        """Run ``fn(name)`` for the selected model; its message (or the error, naming the model) goes first."""
        name = self._name(model_id)
        if name is None:
            message = "Pick a model first." if not model_id else f"{WARNING_MARK} That model is no longer registered. Refresh the list."
        else:
            try:
                message = fn(name)
            except ModelForgeException as exc:
                message = f"{name}: {error_text(exc)}"
        return add_message(history, message)

    def do_evaluate(self, model_id, dataset, samples, history):
        def run(name: str) -> str:
            result = self.ctx.evaluation.evaluate(model_id, dataset, samples=int(samples or 32))
            lines = ["| metric | fine-tuned | base |", "|---|---|---|"]
            lines += [f"| {k} | {format_number(v)} | {format_number(result['base'].get(k))} |"
                      for k, v in result["model"].items() if isinstance(v, (int, float))]
            return f"Evaluated {name} on {result['rows']} rows:\n\n" + "\n".join(lines)

        return self._act(model_id, history, run)

    def do_export(self, model_id, fmt, gguf_type, ollama, folder, history, progress=gr.Progress()):
        """Export with progress; the result area says where, the report area shows the parity report."""
        done = []

        def run(name: str) -> str:
            result = self.ctx.exports.export(model_id, folder or None, fmt, gguf_type, bool(ollama),
                                             lambda fraction, message: progress(fraction, desc=message))
            done.append(result)
            return self.exporting.message(name, fmt, gguf_type, result)

        text, kept = self._act(model_id, history, run)
        report = ""
        if done:
            result = self.ctx.exports.result_dict(done[0])
            report = report_markdown(result["report"], result["commands"])
        return text, kept, report

    def do_zip(self, model_id, history):
        archive = []

        def run(name: str) -> str:
            record = self.ctx.models.get_model(model_id)
            stem = safe_stem(record["name"])
            target = Path(tempfile.mkdtemp()) / f"{stem}.zip"
            archive.append(str(self.ctx.exports.zip_adapter(model_id, target)))
            return f"Adapter of {name} zipped: `{_md(target.name)}` is ready to download."

        text, kept = self._act(model_id, history, run)
        return (archive[0] if archive else None), text, kept

    def do_push(self, model_id, repo, private, token, history):
        text, kept = self._act(model_id, history, lambda name: (
            f"Pushed {name} to {self.ctx.exports.push_to_hub(model_id, repo, token, private)}."
        ))
        return text, kept, ""

    def do_rerun(self, model_id, anyway, history):
        def run(name: str) -> str:
            result = rerun_model(self.ctx.training, self.ctx.models, model_id, allow_changed_data=bool(anyway))
            job = result["job"]
            notes = "".join(f"\n\n{WARNING_MARK} {_md(note)}" for note in result["notes"])
            return (f"Rerun of {name} queued as job `{job['id']}` ({_md(job['config']['output_name'])}). When it is done, "
                    f"compare the two in Compare.{notes}")

        return self._act(model_id, history, run)

    def do_rename(self, model_id, new_name, history):
        text, kept = self._act(model_id, history, lambda name: (
            f"Renamed {name} to **{_md(self.ctx.models.rename_model(model_id, new_name)['name'])}**."
        ))
        return (text, kept, *self.refreshed(model_id))

    def do_delete(self, model_id, confirmed, history):
        if not confirmed:
            text, kept = self._act(model_id, history, lambda name: (
                f"Tick the confirmation first: deleting {name} removes its files."
            ))
            return (text, kept, *self.refreshed(model_id), False)
        text, kept = self._act(model_id, history, lambda name: self.ctx.models.delete_model(model_id)["message"])
        return (text, kept, *self.refreshed(None), False)

    def _wire(self) -> None:
        result = [self.result, self.messages]
        self.refresh.click(self.refreshed, self.model, [self.table, self.model], api_name="list_registered_models")
        self.model.change(self.details, self.model, [self.metrics, self.curves, self.config, self.card],
                          api_name="model_details")
        self.evaluate.click(self.do_evaluate, [self.model, self.eval_dataset, self.eval_samples, self.messages], result,
                            api_name="evaluate_model")
        panel = self.exporting
        panel.button.click(self.do_export, [self.model, panel.format, panel.gguf_type, panel.ollama, panel.folder, self.messages],
                           [*result, panel.report], api_name="export_model")
        self.model.change(panel.latest, self.model, panel.report, api_visibility="private")
        self.zip.click(self.do_zip, [self.model, self.messages], [self.zip_file, *result], api_name="download_adapter")
        self.push.click(self.do_push, [self.model, self.repo, self.private, self.token, self.messages], [*result, self.token],
                        api_name="push_to_hub")
        self.rerun.click(self.do_rerun, [self.model, self.rerun_anyway, self.messages], result, api_name="rerun_model")
        details = [self.metrics, self.curves, self.config, self.card]
        self.rename.click(self.do_rename, [self.model, self.new_name, self.messages], [*result, self.table, self.model],
                          api_name="rename_model").then(self.details, self.model, details)  # the card has the new name
        self.delete.click(self.do_delete, [self.model, self.confirm, self.messages],
                          [*result, self.table, self.model, self.confirm], api_name="delete_model")
