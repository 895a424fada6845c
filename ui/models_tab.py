"""The Models tab: the registry; a model's details and curves; open in Playground, evaluate, export,
download the adapter, push to the Hub, rename, delete."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from modelforge_core.exceptions import ModelForgeException

from .context import UIContext
from .job_view import JobView
from .playground_tab import model_choices

KEY_METRICS = ("eval_loss", "perplexity", "rougeL", "f1", "reward_accuracy", "reward_model_accuracy")


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


def _error(exc: ModelForgeException) -> str:
    return f"⚠️ {exc.message} {exc.hint}".strip()


class ModelsTab:
    """Components and handlers; ``open_in_playground`` is wired by the app to switch tabs."""

    def __init__(self, ctx: UIContext):
        self.ctx = ctx
        self.table = gr.Dataframe(models_table(ctx), interactive=False, elem_id="mf-models-table", wrap=True)
        with gr.Row():
            self.model = gr.Dropdown(model_choices(ctx), label="Model", elem_id="mf-models-model", scale=4)
            self.refresh = gr.Button("Refresh", size="sm", scale=1)
        self.result = gr.Markdown(elem_id="mf-models-result")
        with gr.Tabs():
            with gr.Tab("Details"):
                self.metrics = gr.JSON(label="Final metrics", elem_id="mf-models-metrics")
                self.curves = gr.LinePlot(x="step", y="value", color="series", title="Loss during training", height=240)
                self.config = gr.Code(language="json", label="Config")
                self.card = gr.Markdown(elem_id="mf-models-card")
            with gr.Tab("Actions"):
                self.open = gr.Button("Open in Playground", variant="primary", elem_id="mf-models-open")
                with gr.Row():
                    self.eval_dataset = gr.Textbox(label="Evaluate on dataset (file path)", scale=3)
                    self.eval_samples = gr.Number(32, label="Rows", precision=0, scale=1)
                    self.evaluate = gr.Button("Evaluate", scale=1)
                with gr.Row():
                    self.export_dir = gr.Textbox(label="Export merged model to folder", elem_id="mf-models-export-dir", scale=3)
                    self.export = gr.Button("Export merged", elem_id="mf-models-export", scale=1)
                with gr.Row():
                    self.zip = gr.Button("Download adapter (.zip)", scale=1)
                    self.zip_file = gr.File(label="Adapter", scale=3)
                with gr.Row():
                    self.repo = gr.Textbox(label="Hub repo (your-name/model-name)", scale=2)
                    self.private = gr.Checkbox(True, label="Private")
                    self.token = gr.Textbox(label="Hub token (used once, never stored)", type="password", scale=2)
                    self.push = gr.Button("Push to Hub", scale=1)
                with gr.Row():
                    self.new_name = gr.Textbox(label="New name", scale=3)
                    self.rename = gr.Button("Rename", scale=1)
                with gr.Row():
                    self.confirm = gr.Checkbox(label="Yes, delete this model and its files", elem_id="mf-models-confirm")
                    self.delete = gr.Button("Delete", variant="stop", elem_id="mf-models-delete")
        self._wire()

    def refreshed(self, selected: str | None = None):
        choices = model_choices(self.ctx)
        ids = [value for _, value in choices]
        return models_table(self.ctx), gr.update(choices=choices, value=selected if selected in ids else None)

    def details(self, model_id: str | None):
        if not model_id:
            return None, None, "", ""
        try:
            record = self.ctx.models.get_model(model_id)
        except ModelForgeException as exc:
            return None, None, "", _error(exc)
        view = JobView(record.get("job_id") or "-")
        if record.get("job_id"):
            try:
                for event in self.ctx.training.events(record["job_id"]):
                    view.add(event)
            except ModelForgeException:
                pass
        card_file = Path(record["path"]) / "README.md"
        card = card_file.read_text(encoding="utf-8").split("---", 2)[-1] if card_file.is_file() else "(no model card)"
        return record["metrics"], view.loss_frame(), json.dumps(record["config"], indent=2), card

    def _act(self, fn, *args) -> str:
        try:
            return fn(*args)
        except ModelForgeException as exc:
            return _error(exc)

    def do_evaluate(self, model_id, dataset, samples) -> str:
        from modelforge_core.services.evaluation_service import EvaluationService

        def run() -> str:
            result = EvaluationService(self.ctx.models).evaluate(model_id, dataset, samples=int(samples or 32))
            lines = ["| metric | fine-tuned | base |", "|---|---|---|"]
            lines += [f"| {k} | {v:.4g} | {result['base'].get(k, float('nan')):.4g} |" for k, v in result["model"].items() if isinstance(v, (int, float))]
            return f"Evaluated on {result['rows']} rows:\n\n" + "\n".join(lines)

        return self._act(run)

    def do_export(self, model_id, folder) -> str:
        return self._act(lambda: f"Merged model saved to `{self.ctx.exports.export_merged(model_id, folder)}`.")

    def do_zip(self, model_id):
        try:
            record = self.ctx.models.get_model(model_id)
            return str(self.ctx.exports.zip_adapter(model_id, Path(tempfile.mkdtemp()) / f"{record['name']}.zip")), ""
        except ModelForgeException as exc:
            return None, _error(exc)

    def do_push(self, model_id, repo, private, token) -> tuple[str, str]:
        return self._act(lambda: f"Pushed to {self.ctx.exports.push_to_hub(model_id, repo, token, private)}."), ""

    def do_rename(self, model_id, new_name):
        message = self._act(lambda: f"Renamed to **{self.ctx.models.rename_model(model_id, new_name)['name']}**.")
        return (message, *self.refreshed(model_id))

    def do_delete(self, model_id, confirmed):
        if not confirmed:
            return ("Tick the confirmation first: deleting removes the model's files.", *self.refreshed(model_id), False)
        message = self._act(lambda: self.ctx.models.delete_model(model_id).get("message") or "Deleted.")
        return (message, *self.refreshed(None), False)

    def _wire(self) -> None:
        self.refresh.click(self.refreshed, self.model, [self.table, self.model], api_name="list_registered_models")
        self.model.change(self.details, self.model, [self.metrics, self.curves, self.config, self.card], api_name="model_details")
        self.evaluate.click(self.do_evaluate, [self.model, self.eval_dataset, self.eval_samples], self.result, api_name="evaluate_model")
        self.export.click(self.do_export, [self.model, self.export_dir], self.result, api_name="export_merged")
        self.zip.click(self.do_zip, self.model, [self.zip_file, self.result], api_name="download_adapter")
        self.push.click(self.do_push, [self.model, self.repo, self.private, self.token], [self.result, self.token], api_name="push_to_hub")
        self.rename.click(self.do_rename, [self.model, self.new_name], [self.result, self.table, self.model], api_name="rename_model")
        self.delete.click(self.do_delete, [self.model, self.confirm], [self.result, self.table, self.model, self.confirm], api_name="delete_model")
