"""The Gradio UI: one module per tab, binding only to modelforge_core's services."""

from __future__ import annotations

import gradio as gr

from .api_endpoints import register_api_endpoints
from .context import UIContext
from .dataset_check_view import CHECK_CSS
from .finetune_tab import create_finetune_tab
from .hardware_tab import create_hardware_tab
from .line_chart import CHART_CSS
from .models_tab import ModelsTab
from .playground_tab import PlaygroundTab

CSS = """
#mf-progress .mf-bar { height: 14px; background: var(--neutral-200); border-radius: 7px; overflow: hidden; }
#mf-progress .mf-fill { height: 100%; background: var(--color-accent); transition: width .3s; }
#mf-progress .mf-label { margin-top: 4px; font-size: 0.9em; }
#mf-run-notice:empty { display: none; }
""" + CHART_CSS + CHECK_CSS

__all__ = ["UIContext", "build_ui", "CSS"]


def build_ui(ctx: UIContext) -> gr.Blocks:
    """The studio: Hardware, Finetune, Playground and Models tabs."""
    with gr.Blocks(title="ModelForge") as blocks:
        gr.Markdown("# ModelForge\nFine-tune language models on this machine: pick a model and a dataset, train, watch it learn.")
        with gr.Tabs(selected="finetune") as tabs:
            with gr.Tab("Hardware", id="hardware", elem_id="mf-tab-hardware"):
                hardware = create_hardware_tab(ctx)
            with gr.Tab("Finetune", id="finetune", elem_id="mf-tab-finetune"):
                finetune = create_finetune_tab(ctx, hardware.session)
            with gr.Tab("Playground", id="playground", elem_id="mf-tab-playground") as playground_tab:
                playground = PlaygroundTab(ctx)
            with gr.Tab("Models", id="models", elem_id="mf-tab-models") as models_tab:
                models = ModelsTab(ctx)
        finetune.on_load(blocks)
        blocks.load(hardware.recommend, [hardware.task, hardware.session], [hardware.table, hardware.pick, hardware.offline_note])
        blocks.load(hardware.live_reading, None, hardware.live, show_progress="hidden")
        hardware.use.click(
            lambda task, model_id, dataset, session: [
                *finetune.apply_recommendation(hardware.recommendation(task, model_id, session), dataset, session),
                gr.Tabs(selected="finetune"),
            ],
            [hardware.task, hardware.pick, finetune.form["dataset"], hardware.session], [*finetune.recommendation_components(), tabs],
            api_name="use_recommendation",
        )
        models_tab.select(models.refreshed, models.model, [models.table, models.model])
        playground_tab.select(lambda v: gr.update(choices=playground.refresh_choices(), value=v), playground.model, playground.model)
        models.open.click(lambda v: (gr.update(choices=playground.refresh_choices(), value=v), gr.Tabs(selected="playground")),
                          models.model, [playground.model, tabs], api_name="open_in_playground")
        comparing = models.comparing
        finetune.compare_sweep.click(
            lambda session: (comparing.picked(session.sweep), gr.Tabs(selected="models"), gr.Tabs(selected="compare")),
            finetune.run.session, [comparing.pick, tabs, models.sections], api_visibility="private",
        ).then(comparing.compare, comparing.pick, comparing.outputs, api_visibility="private")
        register_api_endpoints(ctx)
    return blocks
