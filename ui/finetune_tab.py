"""The Finetune tab: task, model, dataset (with preview and validation), settings, and the run panel."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from modelforge_core.exceptions import ModelForgeException

from .context import UIContext
from .dataset_check_view import check_html, check_markdown
from .errors import WARNING_MARK, error_text
from .finetune_form import (
    ADVANCED_FIELDS,
    BASIC_FIELDS,
    JSON_MAP_FIELDS,
    SWEEP_EXAMPLE,
    FormField,
    build_config,
    config_to_form_values,
    default_value,
    device_fields,
    help_text,
    method_fields,
    parse_mapping,
    parse_sweep,
    render_config,
    without_other_methods_settings,
)
from .hardware_tab import SessionHardware, recommendation_form_values
from .memory_estimate import estimate_markdown, time_markdown
from .run_panel import RunPanel, RunSession

PREVIEW_FIELDS = ("dataset", "task", "column_mapping", "strategy", "replacements")  # what the preview reads, in its order
FIELD_MIN_WIDTH = 200  # pixels: a row of settings wraps before a field (and its help) gets too narrow to read


def _component(field: FormField, value, visible: bool = True):
    common = {"label": field.label, "info": help_text(field.name), "value": value, "elem_id": f"mf-{field.name}",
              "min_width": FIELD_MIN_WIDTH, "visible": visible}
    if field.kind == "checkbox":
        return gr.Checkbox(**common)
    if field.kind == "dropdown":
        return gr.Dropdown(list(field.choices), allow_custom_value=True, **common)
    if field.kind == "multiselect":
        return gr.Dropdown(list(field.choices), multiselect=True, **common)
    if field.kind == "slider":
        return gr.Slider(field.minimum, field.maximum, step=field.step, **common)
    if field.kind == "text":
        return gr.Textbox(**common)
    common["value"] = None if value == "" else value  # an optional number left empty (the config's None)
    return gr.Number(minimum=field.minimum, maximum=field.maximum, precision=0 if field.kind == "int" else None, **common)


def _sample_choices(samples: dict[str, str]) -> list[tuple[str, str]]:
    return [(f"Sample: {key} ({Path(path).name})", path) for key, path in samples.items()]


class FinetuneTab:
    """Builds the form and the run panel, and wires their events.

    ``hardware`` is the Hardware tab's per-session state: the machine a session's estimates are for.
    """

    def __init__(self, ctx: UIContext, hardware: gr.State):
        self.ctx = ctx
        self.hardware = hardware
        self.form: dict[str, gr.components.Component] = {}
        # The demo model is preselected: its settings make the first Start visibly learn.
        defaults = {**ctx.machine.profile_defaults, **ctx.catalog.demo_training}
        with gr.Row():
            with gr.Column(scale=3):
                self._what_to_train()
                self._dataset()
                gr.Markdown("### Settings")
                with gr.Row():
                    for field in BASIC_FIELDS:
                        self.form[field.name] = _component(field, default_value(field.name, defaults))
                self._method_settings(defaults)
                self._device_settings(defaults)
                with gr.Accordion("Advanced settings", open=False):
                    self.form["compute_specs"] = gr.Dropdown(
                        ["cpu", "low_end", "mid_range", "high_end"], value=ctx.machine.compute_profile, label="Compute profile",
                        info="Detected from this machine; its defaults fill the settings above.",
                    )
                    switches = [field for field in ADVANCED_FIELDS if field.kind == "checkbox"]
                    with gr.Row():
                        for field in ADVANCED_FIELDS:
                            if field not in switches:
                                self.form[field.name] = _component(field, default_value(field.name, defaults))
                    with gr.Row():  # a column each: checkboxes in one row would share its width, however many
                        for field in switches:
                            with gr.Column(min_width=FIELD_MIN_WIDTH):
                                self.form[field.name] = _component(field, default_value(field.name, defaults))
                    self.sweep = gr.Textbox(
                        label="Sweep: one or two settings as lists (Start queues one job per combination)",
                        info=f"e.g. {SWEEP_EXAMPLE}; empty: one run. Up to 16 runs, named by their values.",
                        elem_id="mf-sweep",
                    )
                self.form_error = gr.Markdown(elem_id="mf-form-error")
                with gr.Accordion("Config (JSON) and the CLI command that runs it", open=False):
                    self.config_json = gr.Code(language="json", label="config.json", elem_id="mf-config-json")
                    self.cli = gr.Code(language="shell", label="CLI", elem_id="mf-cli")
            with gr.Column(scale=2):
                self.estimate = gr.Markdown(elem_id="mf-estimate")
                with gr.Group(visible=False, elem_id="mf-confirm") as self.confirm:
                    self.confirm_text = gr.Markdown()
                    self.start_anyway = gr.Button("Start anyway", variant="stop", elem_id="mf-start-anyway")
                self.run = RunPanel(ctx)
                self.compare_sweep = gr.Button("Compare the sweep", visible=False, elem_id="mf-compare-sweep")
        self._wire()

    def _what_to_train(self) -> None:
        info = self.ctx.info
        gr.Markdown("### What to train")
        with gr.Row():
            self.form["task"] = gr.Dropdown(info.tasks, value="text-generation", label="Task", info=help_text("task"))
            self.form["model_name"] = gr.Dropdown(
                self.ctx.catalog.choices(self.ctx.machine.compute_profile), value=self.ctx.catalog.demo_model_path(),
                allow_custom_value=True, label="Model", elem_id="mf-model",
                info="A recommended model, the demo model, a local folder or a Hub id (checked before training).",
            )
        with gr.Row():
            self.form["provider"] = gr.Dropdown(info.providers, value="huggingface", label="Provider", info=help_text("provider"))
            self.form["strategy"] = gr.Dropdown(
                info.strategies_for("text-generation"), value="sft", label="Strategy", info=help_text("strategy"),
                elem_id="mf-strategy",
            )

    def _method_settings(self, defaults: dict) -> None:
        """The picked strategy's own settings (its ``settings``); the others' fields are hidden and act on nothing."""
        settings = self.ctx.info.strategy_settings
        self.method_fields = method_fields(settings)
        shown = set(self.ctx.info.settings_of("sft"))
        with gr.Accordion(_method_title("sft"), open=True, visible=bool(shown), elem_id="mf-method-settings") as self.method_box:
            with gr.Row():
                for field in self.method_fields:
                    self.form[field.name] = _component(field, default_value(field.name, defaults), visible=field.name in shown)

    def _device_settings(self, defaults: dict) -> None:
        """How many GPUs, which, and the distributed method: only on a machine with more than one GPU."""
        pool = self.ctx.training.pool  # the GPUs the queue hands out (within the app's CUDA_VISIBLE_DEVICES)
        fields = device_fields(len(pool.gpus))
        if not fields:
            return
        gpus = ", ".join(pool.gpus)
        with gr.Accordion(f"Several GPUs (this machine: GPU {gpus})", open=False, elem_id="mf-device-settings"):
            with gr.Row():
                for field in fields:
                    self.form[field.name] = _component(field, default_value(field.name, defaults))

    def show_method_settings(self, strategy: str | None):
        """The accordion and fields of ``strategy``'s own settings, the others hidden."""
        shown = set(self.ctx.info.settings_of(strategy))
        return [gr.update(visible=bool(shown), label=_method_title(strategy)),
                *(gr.update(visible=field.name in shown) for field in self.method_fields)]

    def _dataset(self) -> None:
        gr.Markdown("### Dataset")
        samples = self.ctx.samples
        self.form["dataset"] = gr.Dropdown(
            _sample_choices(samples), value=samples.get("sft"), allow_custom_value=True, label="Dataset", elem_id="mf-dataset",
            info="A bundled sample, a file path (.jsonl .json .csv .parquet) or a Hub dataset id.",
        )
        self.upload = gr.File(label="...or upload a file", file_types=list(self.ctx.datasets.file_extensions), type="filepath", height=130)
        with gr.Accordion("Column mapping", open=False):
            self.form["column_mapping"] = gr.Textbox(
                label="Column mapping (JSON)", placeholder='{"question": "instruction", "reply": "output"}', info=help_text("column_mapping")
            )
        self.preview_status = gr.Markdown(elem_id="mf-dataset-status")
        self.preview_rows = gr.Dataframe(label="First rows", interactive=False, wrap=True, max_height=240)
        with gr.Accordion("Dataset check: what the model will learn", open=False, elem_id="mf-check"):
            gr.Markdown("Reads the dataset as Start would, with the model's tokenizer and the settings below: token lengths "
                        "against max_seq_length, rows truncated or dropped, and the first rows with the trained tokens marked.")
            self.check_button = gr.Button("Check the dataset", elem_id="mf-check-button")
            self.check_status = gr.Markdown(elem_id="mf-check-status")
            self.check_view = gr.HTML(elem_id="mf-check-view")

    # -- handlers ---------------------------------------------------------------------------

    def _values(self, data: dict) -> dict:
        values = {name: data[component] for name, component in self.form.items()}
        return without_other_methods_settings(values, self.ctx.info.strategy_settings)

    def strategies_for_task(self, task: str):
        strategies = self.ctx.info.strategies_for(task)
        return gr.update(choices=strategies, value=strategies[0] if strategies else None)

    def sync_demo_model_and_sample(self, task: str, strategy: str, model: str, dataset: str):
        """Keep demo choices consistent: a demo model and a bundled sample follow the task and strategy."""
        samples = self.ctx.samples
        new_model = self.ctx.catalog.demo_model_for_task(task) if model in self.ctx.catalog.demo_model_paths() else model
        wanted = samples.get(self.ctx.datasets.sample_key_for(strategy, "sft" if task == "text-generation" else task) or "")
        new_dataset = wanted if dataset in samples.values() and wanted else dataset
        return gr.update(value=new_model), gr.update(value=new_dataset)

    def store_upload(self, path: str | None):
        if not path:
            return gr.update()
        try:
            stored = self.ctx.datasets.store_upload(path)
        except ModelForgeException as exc:
            gr.Warning(error_text(exc, heading=Path(path).name, mark=False))
            return gr.update()
        choices = _sample_choices(self.ctx.samples) + [(f"Upload: {Path(path).name}", stored)]
        return gr.update(choices=choices, value=stored)

    def preview(self, dataset: str, task: str, mapping_text: str, strategy: str | None = None, replacements_text: str = ""):
        """The dataset's first rows, shape and check (for the strategy, placeholders with the replacements); says
        "loading" while the libraries still load."""
        if not self.ctx.catalog.libraries_ready():
            yield "⏳ Reading the dataset as soon as the training libraries have loaded (first start)…", gr.update(visible=False)
        try:
            mapping, replacements = (
                parse_mapping(text, *JSON_MAP_FIELDS[name]) if text and text.strip() else None
                for name, text in (("column_mapping", mapping_text), ("replacements", replacements_text))
            )
        except ModelForgeException as exc:
            yield error_text(exc), gr.update(value=None, visible=False)
            return
        result = self.ctx.datasets.preview(dataset, task, mapping, strategy, replacements)
        text = ("**Ready.** " if result.ok else "**Cannot train on this yet.** ") + result.message
        if result.shape:
            text += f"\n\nDetected record shape: **{result.shape}** · {result.num_rows} rows · columns: {', '.join(result.columns)}"
        if not result.rows:
            yield text, gr.update(value=None, visible=False)
            return
        rows = pd.DataFrame([{k: _cell(v) for k, v in row.items()} for row in result.rows])
        yield text, gr.update(value=rows, visible=True)

    def check(self, data: dict):
        """The dataset check of the form's config: its summary, then the histogram and the rows as the model reads them."""
        try:
            config = build_config(self._values(data))
        except ModelForgeException as exc:
            yield error_text(exc, heading="Cannot check yet"), ""
            return
        yield "⏳ Checking the dataset: reading and tokenizing every row as training would…", ""
        try:
            self.ctx.catalog.ensure_ready(config.model_name)  # the demo model may still be building
            report = self.ctx.datasets.check(config)
        except ModelForgeException as exc:
            yield self.ctx.datasets.named(error_text(exc, heading="Cannot check"), config.dataset), ""
            return
        yield check_markdown(report), check_html(report)

    def _machine_report(self, data: dict) -> dict:
        """The session's machine, as the estimator takes it."""
        session: SessionHardware = data[self.hardware]
        return session.machine.report

    def _estimate(self, config, data: dict) -> dict | None:
        try:
            return self.ctx.hardware.estimate(config, self._machine_report(data))
        except ModelForgeException:
            return None

    def estimate_markdown(self, data: dict):
        """The memory estimate of the form's current config on this machine ("estimating" while libraries load)."""
        try:
            config = build_config(self._values(data))
        except ModelForgeException as exc:
            yield error_text(exc, heading="Memory estimate unavailable", mark=False)
            return
        if not self.ctx.catalog.is_ready(config.model_name):
            yield "⏳ Estimating the memory this run needs: loading the training libraries and the demo model (first start)…"
        try:
            self.ctx.catalog.ensure_ready(config.model_name)  # the demo model may still be building
            memory = estimate_markdown(self.ctx.hardware.estimate(config, self._machine_report(data)))
        except ModelForgeException as exc:
            yield error_text(exc, heading="Memory estimate unavailable", mark=False)
            return
        yield memory + "\n\n⏳ Estimating the time on this machine…"
        try:
            timing = time_markdown(self.ctx.hardware.estimate_time(config, self._machine_report(data)))
        except ModelForgeException as exc:
            timing = error_text(exc, heading="Time estimate unavailable", mark=False)
        except Exception as exc:  # advice next to Start: a failure here never blocks the form
            timing = f"**Time estimate unavailable:** {type(exc).__name__}: {exc}"
        yield memory + "\n\n" + timing

    def settings_changed(self, data: dict):
        """A new estimate; a pending "start anyway?" question no longer applies."""
        first = True
        for text in self.estimate_markdown(data):
            yield text, gr.update(visible=False) if first else gr.skip()
            first = False

    def start(self, data: dict):
        """Start, unless the estimate says it will not fit: then ask first."""
        try:
            config = build_config(self._values(data))
            parse_sweep(data[self.sweep])
        except ModelForgeException as exc:
            return self._blocked(exc)
        estimate = self._estimate(config, data)
        if estimate and estimate["verdict"] == "will_not_fit":
            question = (
                f"### This run will probably run out of memory\n{estimate_markdown(estimate)}\n\n"
                "Change the settings, or start anyway (the job fails cleanly if memory runs out)."
            )
            return (f"{WARNING_MARK} Not started yet: this run will probably run out of memory (see the question below).",
                    gr.update(visible=True), question, *self._unchanged_view())
        return self._submit(config, data[self.run.session], data[self.sweep])

    def start_confirmed(self, data: dict):
        """Start without asking (after the warning)."""
        try:
            config = build_config(self._values(data))
        except ModelForgeException as exc:
            return self._blocked(exc)
        return self._submit(config, data[self.run.session], data[self.sweep])

    def _unchanged_view(self) -> tuple:
        return tuple(gr.skip() for _ in self.run.view_outputs)

    def _blocked(self, exc: ModelForgeException, dataset: str | None = None) -> tuple:
        """Why Start did nothing, beside the button and as a notification; files named by their names."""
        gr.Warning(self.ctx.datasets.named(error_text(exc, heading="Not started", mark=False), dataset))
        notice = self.ctx.datasets.named(error_text(exc, heading="**Not started**", kind=True), dataset)
        return (notice, gr.update(visible=False), "", *self._unchanged_view())

    def _submit(self, config, session: RunSession, sweep_text: str | None = None) -> tuple:
        """Submit; the new job becomes the one the panel shows (queued jobs too). With a sweep, every
        combination is queued and the panel shows the first."""
        try:
            sweep = parse_sweep(sweep_text)
            if sweep:
                return self._submit_sweep(config, sweep, session)
            job = self.ctx.training.submit_when_ready(config)
        except ModelForgeException as exc:
            return self._blocked(exc, config.dataset)
        if job["status"] == "queued":
            notice = (f"Job `{job['id']}` is queued at position {job['queue_position']}: another job is running. "
                      "It starts by itself; the panel shows it meanwhile.")
            gr.Info(notice.replace("`", ""))
        else:
            notice = f"Job `{job['id']}` started."
        return (notice, gr.update(visible=False), "", *self.run.show(job["id"], session))

    def _submit_sweep(self, config, sweep: dict, session: RunSession) -> tuple:
        jobs = self.ctx.training.submit_sweep({**config.to_json_dict(), "sweep": sweep})
        session.sweep = [job["id"] for job in jobs]
        names = ", ".join(f"`{job['config']['output_name']}`" for job in jobs)
        notice = (f"Sweep: {len(jobs)} jobs queued ({names}); they run one after another, the panel shows the first. "
                  "**Compare the sweep** shows them side by side in Models, finished or not.")
        return (notice, gr.update(visible=False), "", *self.run.show(jobs[0]["id"], session))

    # What "Use in Finetune" sets: everything the recommendation was estimated with (its settings, see
    # modelforge_core.hardware.recommendations.RUN_FIELDS), so that the estimate here is the table's.
    RECOMMENDATION_FIELDS = (
        "task", "model_name", "strategy", "per_device_train_batch_size", "gradient_accumulation_steps", "max_seq_length",
        "use_4bit", "gradient_checkpointing", "bf16", "fp16", "dataset", "finetuning_type", "learning_rate",
        "num_train_epochs", "max_steps", "warmup_ratio", "lora_r", "lora_alpha", "lora_dropout", "target_modules", "optim",
        "packing", "padding_free", "chunked_loss", "eval_steps", "logging_steps", "save_steps",
    )

    def recommendation_components(self) -> list:
        return [self.form[name] for name in self.RECOMMENDATION_FIELDS]

    def apply_recommendation(self, item: dict | None, dataset: str, session: SessionHardware) -> list:
        """Form updates that take a Hardware-tab recommendation (made for the session's machine): its task,
        model, strategy and settings."""
        if item is None:
            gr.Warning("Pick a recommended model first.")
            return [gr.update() for _ in self.RECOMMENDATION_FIELDS]
        carried = recommendation_form_values(
            item, session.machine.profile_defaults, dataset, self.ctx.samples, self.ctx.catalog.demo_training
        )
        values = {name: gr.update(value=value) for name, value in carried.items()}
        strategies = self.ctx.info.strategies_for(item["task"])
        values["strategy"] = gr.update(choices=strategies, value=carried["strategy"])
        return [values.get(name, gr.update()) for name in self.RECOMMENDATION_FIELDS]

    def _wire(self) -> None:
        form_inputs = set(self.form.values())
        estimate_inputs = {*form_inputs, self.hardware}  # the estimate is for the session's machine
        # .input, not .change: a recommendation carried from the Hardware tab sets task and strategy together
        self.form["task"].input(self.strategies_for_task, self.form["task"], self.form["strategy"], api_name="strategies_for_task")
        gr.on(
            [self.form["task"].input, self.form["strategy"].input],
            self.sync_demo_model_and_sample,
            [self.form["task"], self.form["strategy"], self.form["model_name"], self.form["dataset"]],
            [self.form["model_name"], self.form["dataset"]],
        )
        self.form["strategy"].change(
            self.show_method_settings, self.form["strategy"], [self.method_box, *(self.form[f.name] for f in self.method_fields)],
            show_progress="hidden",
        )
        self.upload.upload(self.store_upload, self.upload, self.form["dataset"], api_name="upload_dataset")
        preview_inputs = [self.form[name] for name in PREVIEW_FIELDS]
        gr.on(
            [self.form["dataset"].change, self.form["task"].change, self.form["strategy"].change,
             self.form["column_mapping"].blur, self.form["replacements"].blur],
            self.preview, preview_inputs, [self.preview_status, self.preview_rows], api_name="preview_dataset",
        )
        self.check_button.click(self.check, form_inputs, [self.check_status, self.check_view], api_name="check_dataset")
        gr.on(
            [c.change for c in self.form.values()],
            lambda data: render_config(self._values(data)), form_inputs, [self.config_json, self.cli, self.form_error],
            api_name="render_config", show_progress="hidden",
        )
        gr.on(
            [c.change for c in self.form.values()], self.settings_changed, estimate_inputs, [self.estimate, self.confirm],
            api_name="estimate_memory", show_progress="hidden", trigger_mode="always_last",
        )
        run = self.run
        start_inputs = {*estimate_inputs, run.session, self.sweep}
        start_outputs = [run.notice, self.confirm, self.confirm_text, *run.view_outputs]
        sweep_shown = {"fn": lambda session: gr.update(visible=bool(session.sweep)), "inputs": run.session,
                       "outputs": self.compare_sweep, "api_visibility": "private"}
        run.start.click(self.start, start_inputs, start_outputs, api_name="start", show_progress="minimal",
                        show_progress_on=run.notice).then(**sweep_shown)
        self.start_anyway.click(self.start_confirmed, start_inputs, start_outputs, api_name="start_anyway").then(**sweep_shown)
        run.wire()

    def on_load(self, blocks: gr.Blocks) -> None:
        """A (re)loaded page re-attaches to the live job with its full history and settings, and shows the first preview."""
        run = self.run
        blocks.load(run.attach, run.session, run.view_outputs, show_progress="hidden").then(
            self.restore_form, run.session, list(self.form.values()), show_progress="hidden"
        )
        blocks.load(self.preview, [self.form[name] for name in PREVIEW_FIELDS], [self.preview_status, self.preview_rows])
        blocks.load(lambda data: render_config(self._values(data)), set(self.form.values()), [self.config_json, self.cli, self.form_error])
        blocks.load(self.estimate_markdown, {*self.form.values(), self.hardware}, self.estimate, show_progress="hidden")

    def restore_form(self, session: RunSession):
        """The form shows the settings of the job the panel shows (after a reload); unchanged without one."""
        job_id = session.job_id
        if not job_id:
            return [gr.skip() for _ in self.form]
        try:
            config = self.ctx.training.get_job(job_id)["config"]
        except ModelForgeException:
            return [gr.skip() for _ in self.form]
        values = config_to_form_values(config)
        strategies = self.ctx.info.strategies_for(values.get("task"))
        updates = {name: gr.update(value=value) for name, value in values.items() if name in self.form}
        if "strategy" in updates:
            updates["strategy"] = gr.update(choices=strategies, value=values["strategy"])
        return [updates.get(name, gr.skip()) for name in self.form]


def _method_title(strategy: str | None) -> str:
    return f"Method settings: {strategy}" if strategy else "Method settings"


def _cell(value) -> str:
    text = str(value)
    return text if len(text) <= 160 else text[:157] + "..."


def create_finetune_tab(ctx: UIContext, hardware: gr.State) -> FinetuneTab:
    """The tab; ``hardware`` is the Hardware tab's per-session state (``SessionHardware``)."""
    return FinetuneTab(ctx, hardware)
