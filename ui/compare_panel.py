"""The Models tab's Compare panel: pick two or more models or jobs; their curves on one chart, their final
metrics side by side, and the config fields in which they differ (``run_comparison.compare_runs``)."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from modelforge_core.exceptions import ModelForgeException
from modelforge_core.services.run_comparison import compare_runs, comparison_table, differences_table

from .context import UIContext
from .errors import error_text
from .line_chart import line_chart_html

CURVE_LABELS = {"loss": "train loss", "eval_loss": "eval loss"}


def run_choices(ctx: UIContext) -> list[tuple[str, str]]:
    """Registered models (by name), then jobs without a registered model (finished or not), newest first."""
    choices = [(f"{model['name']} (model)", model["id"]) for model in ctx.models.list_models()]
    for job in reversed(ctx.training.list_jobs()):
        if not job.get("model_id"):
            name = (job.get("config") or {}).get("output_name") or (job.get("config") or {}).get("model_name", "")
            choices.append((f"job {job['id']} ({job['status']}, {str(name).rsplit('/', 1)[-1]})", job["id"]))
    return choices


def curve_label(name: str) -> str:
    return CURVE_LABELS.get(name) or name.removeprefix("eval_").replace("_", " ")


def comparison_chart(result: dict | None, curve: str | None) -> str:
    """The chart of one curve, one line per run (an SVG whose lines carry their series and points)."""
    if not result or not curve or curve not in result["curves"]:
        return line_chart_html([], "Pick two or more runs and Compare", "mf-compare-chart")
    points = [{"step": step, "value": value, "series": label}
              for label, series in result["curves"][curve].items() for step, value in series]
    return line_chart_html(points, f"{curve_label(curve)} by step", "mf-compare-chart")


def metrics_frame(result: dict) -> pd.DataFrame:
    labels = [run["label"] for run in result["runs"]]
    return pd.DataFrame(comparison_table(result), columns=["metric", *labels])


def differences_frame(result: dict) -> pd.DataFrame:
    labels = [run["label"] for run in result["runs"]]
    return pd.DataFrame(differences_table(result), columns=["field", *labels])


class ComparePanel:
    """Components and handlers of the Compare panel (built inside the Models tab)."""

    def __init__(self, ctx: UIContext):
        self.ctx = ctx
        gr.Markdown("Pick two or more models or jobs (finished or not): their curves overlaid, their final metrics "
                    "and the settings in which they differ.")
        with gr.Row():
            self.pick = gr.Dropdown(run_choices(ctx), multiselect=True, label="Models or jobs", elem_id="mf-compare-pick",
                                    scale=4)
            self.refresh = gr.Button("Refresh list", size="sm", scale=1, elem_id="mf-compare-refresh")
            self.button = gr.Button("Compare", variant="primary", elem_id="mf-compare", scale=1)
        self.notice = gr.Markdown(elem_id="mf-compare-notice")
        self.curve = gr.Dropdown([], label="Curve", elem_id="mf-compare-curve")
        self.chart = gr.HTML(comparison_chart(None, None), elem_id="mf-compare-chart")
        gr.Markdown("**Final metrics**")
        self.metrics = gr.Dataframe(interactive=False, elem_id="mf-compare-metrics", wrap=True)
        gr.Markdown("**Config fields that differ**")
        self.differences = gr.Dataframe(interactive=False, elem_id="mf-compare-config", wrap=True)
        self.result = gr.State(None)
        self._wire()

    def compare(self, refs: list[str] | None):
        """(result, curve choices, chart, metrics, differences, notice) for the picked runs."""
        try:
            result = compare_runs(self.ctx.training, self.ctx.models, list(refs or []))
        except ModelForgeException as exc:
            return None, gr.update(choices=[], value=None), comparison_chart(None, None), None, None, error_text(exc)
        curve = result["default_curve"]
        choices = [(curve_label(name), name) for name in result["curves"]]
        without = [run["label"] for run in result["runs"] if not run["has_curves"]]
        notice = f"No curves for {', '.join(without)} (its job's log is gone): final metrics only." if without else ""
        return (result, gr.update(choices=choices, value=curve), comparison_chart(result, curve), metrics_frame(result),
                differences_frame(result), notice)

    @property
    def outputs(self) -> list:
        return [self.result, self.curve, self.chart, self.metrics, self.differences, self.notice]

    def picked(self, refs: list[str]):
        """The list of runs now, with ``refs`` picked (a sweep's jobs)."""
        return gr.update(choices=run_choices(self.ctx), value=list(refs))

    def refreshed_choices(self, picked: list[str] | None):
        """The runs to pick from now; those picked stay picked while they exist."""
        choices = run_choices(self.ctx)
        values = {value for _, value in choices}
        return gr.update(choices=choices, value=[ref for ref in (picked or []) if ref in values])

    def _wire(self) -> None:
        self.refresh.click(self.refreshed_choices, self.pick, self.pick, api_visibility="private")
        self.button.click(self.compare, self.pick, self.outputs, api_name="compare_runs")
        self.curve.change(comparison_chart, [self.result, self.curve], self.chart, api_visibility="private")
