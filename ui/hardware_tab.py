"""The Hardware tab: the machine and its profile, who can reach the app, live load, and the models that fit
here per task."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr
import pandas as pd

from modelforge_core.exceptions import ModelForgeException
from modelforge_core.schemas.tasks import TASK_TABLE
from modelforge_core.services.dataset_service import DatasetService
from modelforge_core.services.machine import Machine
from modelforge_core.services.model_catalog import DEMO_LABELS, demo_kind_for_task

from .context import UIContext
from .errors import WARNING_MARK, error_text
from .finetune_form import config_to_form_values, default_value

LIVE_INTERVAL_S = 3.0


def hardware_markdown(machine: Machine) -> str:
    """The machine as readable Markdown: profile and why, CPU, RAM, disk, GPUs, torch, defaults, packages."""
    cpu = machine.cpu
    lines = [
        f"**Compute profile: `{machine.compute_profile}`**: {machine.profile_reason}.",
        "",
        f"- **CPU**: {cpu.model} ({cpu.cores_physical} cores, {cpu.cores_logical} threads)",
        f"- **RAM**: {machine.ram_total_gb} GB ({machine.ram_available_gb} GB free)",
        f"- **Disk free** at the data folder: {machine.disk_free_gb} GB",
        f"- **OS**: {machine.os}, Python {machine.python}",
    ]
    for gpu in machine.gpus:
        extra = ", ".join(
            f"{label} {value}{unit}"
            for value, label, unit in ((gpu.compute_capability, "compute", ""), (gpu.utilization_percent, "busy", "%"), (gpu.temperature_c, "", "°C"))
            if value is not None
        )
        lines.append(
            f"- **GPU {gpu.index}**: {gpu.name}, {gpu.memory_total_gb} GB ({gpu.memory_free_gb} GB free), driver {gpu.driver}"
            + (f", {extra}" if extra else "")
        )
    if not machine.gpus:
        lines.append("- **GPU**: none found")
    torch_view = machine.torch
    if torch_view.cuda:
        lines.append(f"- **CUDA** {torch_view.cuda_version}: {torch_view.cuda_devices} GPU(s) usable, bf16 {'yes' if torch_view.bf16 else 'no'}")
    if torch_view.mps:
        lines.append("- **Apple GPU (MPS)** available")
    lines += [f"- {WARNING_MARK} {note}" for note in machine.notes]
    defaults = ", ".join(f"{k} = {v}" for k, v in machine.profile_defaults.items())
    lines += ["", f"Defaults for this profile (the Finetune tab starts from them): {defaults}.", "", "Packages: " + ", ".join(
        f"{name} {version or '(not installed)'}" for name, version in machine.packages.items())]
    return "\n".join(lines)


def access_markdown(access: dict) -> str:
    """The access mode in one line (``SystemInfo.access``): local, or shared and what it confines."""
    return f"**Access**: {access['description']}."


def live_markdown(reading: dict, holders: dict[str, str] | None = None) -> str:
    """Current load: each GPU's memory and utilization and the training job holding it, else CPU and RAM."""
    holders = holders or {}
    if reading["gpus"]:
        return "\n".join(
            f"- GPU {g['index']}: {g['memory_used_gb']} / {g['memory_total_gb']} GB, {g.get('utilization_percent', '?')}% busy"
            + (f", training job `{holders[str(g['index'])]}`" if str(g["index"]) in holders else ", free for training")
            for g in reading["gpus"]
        ) + f"\n- CPU {reading['cpu_percent']}%, RAM {reading['ram_used_gb']} / {reading['ram_total_gb']} GB"
    return f"- CPU {reading['cpu_percent']}% busy\n- RAM {reading['ram_used_gb']} / {reading['ram_total_gb']} GB in use"


def model_label(item: dict) -> str:
    """The model's name for people: its Hub id, or which demo model it is (its path is long)."""
    if not item.get("demo"):
        return item["model_id"]
    return DEMO_LABELS[demo_kind_for_task(item["task"])].split(" (")[0]


def recommendation_dataset(item: dict, dataset: str | None, samples: dict[str, str]) -> str | None:
    """The dataset a carried recommendation trains on: the user's own data stays; a bundled sample (the
    demo task the form starts with, say) becomes the sample that suits the model, task and strategy: the
    task's own sample (its key is the task) for a Hub model, the demo task for a demo model."""
    if dataset and dataset not in samples.values():
        return dataset
    preferred = TASK_TABLE[item["task"]].demo_sample if item.get("demo") else item["task"]
    key = DatasetService.sample_key_for(item["settings"]["strategy"], preferred)
    return samples.get(key or "") or dataset


def recommendation_form_values(
    item: dict, profile_defaults: dict, dataset: str | None, samples: dict[str, str], demo_training: dict
) -> dict:
    """What "Use in Finetune" puts in the form: the recommendation's task, model, dataset and every setting
    it was estimated with, so that the Finetune tab's estimate is the table's. What the form held for the
    demo (``demo_training``: its learning rate, steps, dropout, ...) goes back to the profile's or
    TrainingConfig's defaults, unless the recommendation is a demo model: then its settings are the demo's."""
    values = {name: default_value(name, profile_defaults) for name in demo_training}
    values.update(config_to_form_values(item["settings"]))
    values.update(task=item["task"], model_name=item["model_id"], dataset=recommendation_dataset(item, dataset, samples))
    return values


def fit_label(fit: dict) -> str:
    """'sft', 'dpo 4-bit', 'sft on 2 GPUs (fsdp)': a strategy and what makes it fit."""
    label = fit["strategy"] + (" 4-bit" if fit["use_4bit"] else "")
    return label + (f" on {fit['gpus']} GPUs ({fit['distributed']})" if fit.get("gpus", 1) > 1 else "")


def recommendations_frame(items: list[dict]) -> pd.DataFrame:
    """One row per recommended model; its peak is per GPU where it trains on several."""
    rows = [
        {
            "model": model_label(item),
            "parameters": item["params_label"],
            "strategy": fit_label(next(f for f in item["fits_with"] if f["strategy"] == item["strategy"])),
            "batch": item["settings"]["per_device_train_batch_size"],
            "est. peak GB": round(item["peak_gb"], 2),
            "est. s/step": item.get("step_s"),
            "also fits with": ", ".join(fit_label(f) for f in item["fits_with"] if f["strategy"] != item["strategy"]),
            "note": item["note"],
        }
        for item in items
    ]
    return pd.DataFrame(rows, columns=["model", "parameters", "strategy", "batch", "est. peak GB", "est. s/step", "also fits with",
                                       "note"])


@dataclass
class SessionHardware:
    """The machine one browser session sees and the models recommended for it, per task.

    It starts as the app's reading at start; "Detect again" replaces it for this session only (the
    Finetune tab's estimates and profile defaults read it too).
    """

    machine: Machine
    recommended: dict[str, list[dict]] = field(default_factory=dict)

    def detected(self, machine: Machine) -> None:
        self.machine = machine
        self.recommended.clear()  # they were for the earlier reading


class HardwareTab:
    """The report, the live load and the recommendations, with a button into the Finetune tab.

    ``session`` (a ``gr.State``) is each browser session's ``SessionHardware``.
    """

    def __init__(self, ctx: UIContext):
        self.ctx = ctx
        self.session = gr.State(SessionHardware(ctx.machine))
        with gr.Row():
            with gr.Column(scale=3):
                gr.Markdown(access_markdown(ctx.info.access), elem_id="mf-access")
                self.summary = gr.Markdown(hardware_markdown(ctx.machine), elem_id="mf-hardware")
                self.refresh = gr.Button("Detect again", size="sm")
            with gr.Column(scale=2):
                gr.Markdown(f"### Live load (every {LIVE_INTERVAL_S:g} s)")
                self.live = gr.Markdown(elem_id="mf-live")
                self.timer = gr.Timer(LIVE_INTERVAL_S)
        gr.Markdown(
            "### What this machine can train\nModels that fit here by the memory estimate, with the strategy that makes them fit "
            "(largest first; with several GPUs, a model too large for one is sharded over all of them, and its peak is per GPU), "
            "and the seconds one step takes here on full-length rows (the Finetune tab estimates a whole run on your data). Pick one and carry it into the Finetune tab with its settings."
        )
        with gr.Row():
            self.task = gr.Dropdown([(facts.label, task.value) for task, facts in TASK_TABLE.items()], value="text-generation", label="Task", scale=1)
            self.pick = gr.Dropdown([], label="Recommended model", elem_id="mf-recommendation", scale=2)
            self.use = gr.Button("Use in Finetune", variant="primary", elem_id="mf-use-recommendation", scale=1)
        self.offline_note = gr.Markdown()
        self.table = gr.Dataframe(interactive=False, wrap=True, elem_id="mf-recommendations")
        self.refresh.click(self.detect, self.session, self.summary, api_name="hardware")
        self.timer.tick(self.live_reading, outputs=self.live, show_progress="hidden", api_name="hardware_live")
        self.task.change(self.recommend, [self.task, self.session], [self.table, self.pick, self.offline_note], api_name="recommendations")

    def detect(self, session: SessionHardware) -> str:
        """Read the machine again, for this session."""
        session.detected(self.ctx.hardware.machine())
        return hardware_markdown(session.machine)

    def live_reading(self) -> str:
        return live_markdown(self.ctx.hardware.live(), self.ctx.training.device_holders())

    def recommendations(self, task: str, session: SessionHardware) -> list[dict]:
        """The models for ``task`` that fit the session's machine (computed once per reading)."""
        if task not in session.recommended:
            try:
                self.ctx.catalog.ensure_demo_models()  # built at app start; listed with the others once there
            except ModelForgeException:
                pass
            session.recommended[task] = self.ctx.hardware.recommendations(task, session.machine.report, with_time=True)
        return session.recommended[task]

    def recommend(self, task: str, session: SessionHardware):
        try:
            items = self.recommendations(task, session)
        except ModelForgeException as exc:
            return pd.DataFrame(), gr.update(choices=[], value=None), error_text(exc)
        choices = [(f"{model_label(i)} ({i['params_label']}, {i['strategy']})", i["model_id"]) for i in items]
        note = ""
        if self.ctx.catalog.offline():
            note = ("Offline: the Hub models download from the Hugging Face Hub when training starts. Connect first, "
                    "or train the demo model (it is built here and trains offline).")
        if not any(not i.get("demo") for i in items):
            note = "No Hub model fits this machine's memory for this task; the demo model still trains here."
        return recommendations_frame(items), gr.update(choices=choices, value=choices[0][1] if choices else None), note

    def recommendation(self, task: str, model_id: str, session: SessionHardware) -> dict | None:
        return next((i for i in self.recommendations(task, session) if i["model_id"] == model_id), None)


def create_hardware_tab(ctx: UIContext) -> HardwareTab:
    return HardwareTab(ctx)
