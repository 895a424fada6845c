"""The tabs' pieces without a browser: form -> config, events -> what the page shows, errors in words,
per-session state, and what the tabs ask of the services."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from modelforge_core.demo import DEMO_TRAINING
from modelforge_core.exceptions import ConfigurationError, DatasetValidationError
from modelforge_core.hardware.profiles import PROFILES
from modelforge_core.schemas import TrainingConfig
from modelforge_core.services.hardware_service import HardwareService, reference_machine
from modelforge_core.services.info import system_info
from modelforge_core.services.machine import Machine
from modelforge_core.services.model_service import ModelCardSections
from modelforge_core.services.training_service import TrainingService
from ui.errors import error_text
from ui.finetune_form import (
    ADVANCED_FIELDS,
    BASIC_FIELDS,
    build_config,
    config_to_form_values,
    default_value,
    method_fields,
    render_config,
    values_to_config_dict,
    without_other_methods_settings,
)
from ui.hardware_tab import HardwareTab, hardware_markdown, recommendation_form_values, recommendations_frame
from ui.job_view import JobView

TASKS = ("text-generation", "summarization", "extractive-question-answering")


def _form(**overrides) -> dict:
    values = {
        "task": "text-generation", "model_name": "/models/demo", "provider": "huggingface", "strategy": "sft",
        "dataset": "/data/d.jsonl", "column_mapping": "", "compute_specs": "cpu", "num_train_epochs": 1,
        "max_steps": -1, "learning_rate": 0.0002, "per_device_train_batch_size": 4, "max_seq_length": 512,
        "eval_split": 0.2, "lora_r": 16, "lora_alpha": 32, "eval_steps": 0, "target_modules": "all-linear",
        "output_name": "",
    }
    values.update(overrides)
    return values


def test_form_values_become_a_config_in_the_seed_shape():
    config = build_config(_form(column_mapping='{"q": "instruction"}', target_modules="q_proj, v_proj", eval_steps=10))
    assert config.column_mapping == {"q": "instruction"}
    assert config.target_modules == ["q_proj", "v_proj"] and config.eval_steps == 10
    assert "output_name" not in values_to_config_dict(_form())


def test_render_config_gives_json_and_cli_or_the_error_in_words():
    text, cli, error = render_config(_form())
    assert error == "" and json.loads(text)["model_name"] == "/models/demo"
    assert "python -m modelforge_core train --config" in cli
    text, cli, error = render_config(_form(learning_rate=0))
    assert text == "" and "learning_rate must be positive" in error
    _, _, error = render_config(_form(column_mapping="{not json"))
    assert "Column mapping is not valid JSON" in error


def test_the_data_fields_go_from_the_form_to_the_config_and_back():
    config = build_config(_form(replacements='{"name": "Forge", "author": "Acme"}', stratify_by=" category ", mask_history=True))
    assert config.replacements == {"name": "Forge", "author": "Acme"}
    assert config.stratify_by == "category" and config.mask_history is True
    values = config_to_form_values(config.to_json_dict())
    assert json.loads(values["replacements"]) == {"name": "Forge", "author": "Acme"} and values["stratify_by"] == "category"
    assert build_config({**_form(), **values}) == config, "a stored config fills the form with what it was"
    cleared = config_to_form_values(build_config(_form()).to_json_dict())
    assert cleared["replacements"] == "" and cleared["stratify_by"] == "" and cleared["mask_history"] is False
    assert "replacements" not in values_to_config_dict(_form(replacements=" ", stratify_by=""))


def test_the_data_fields_in_the_form_and_their_errors_in_words():
    kinds = {field.name: field.kind for field in ADVANCED_FIELDS}
    assert (kinds["replacements"], kinds["stratify_by"], kinds["mask_history"]) == ("text", "text", "checkbox")
    _, _, error = render_config(_form(replacements="{name: Forge}"))
    assert error.startswith("⚠️ Replacements is not valid JSON") and '{"name": "Forge", "author": "Acme"}' in error
    _, _, error = render_config(_form(replacements='["name"]'))
    assert error.startswith("⚠️ Replacements must map placeholder names to text.")
    _, _, error = render_config(_form(replacements='{"{{name}}": "Forge"}'))
    assert "replacements: key '{{name}}' is not a placeholder name" in error
    text, _, _ = render_config(_form(replacements='{"name": "Forge"}', mask_history=True))
    assert json.loads(text)["replacements"] == {"name": "Forge"} and json.loads(text)["mask_history"] is True


FORM_FIELDS = (*BASIC_FIELDS, *ADVANCED_FIELDS, *method_fields(system_info().strategy_settings))
NUMERIC_FIELDS = [field for field in FORM_FIELDS if field.kind in ("int", "number")]


def _form_accepts(name: str, value) -> bool:
    try:
        build_config(_form(**{name: value}))
    except ConfigurationError:
        return False
    return True


def test_the_forms_int_fields_are_the_configs():
    int_fields = {name for name, field in TrainingConfig.model_fields.items() if field.annotation in (int, int | None)}
    assert {field.name for field in FORM_FIELDS if field.kind == "int"} == int_fields & {f.name for f in FORM_FIELDS}
    data = values_to_config_dict({name: 3.0 for name in int_fields})
    assert all(type(data[name]) is int for name in int_fields), {n: v for n, v in data.items() if type(v) is not int}
    kinds = {field.name: (field.kind, field.choices) for field in FORM_FIELDS}
    assert kinds["finetuning_type"] == ("dropdown", ("lora", "full")) and kinds["packing"] == ("checkbox", ())
    assert kinds["learning_rate"][0] == "number" and kinds["target_modules"][0] == "text"


@pytest.mark.parametrize("field", NUMERIC_FIELDS, ids=lambda field: field.name)
def test_the_forms_bounds_are_the_configs(field):
    """Just inside the form's range the config accepts; just outside it refuses (no bound: it accepts far out)."""
    nudge = 1 if field.kind == "int" else 1e-6
    if field.minimum is None:
        assert _form_accepts(field.name, -10**6)
    else:
        assert _form_accepts(field.name, field.minimum + (0 if field.kind == "int" else nudge)), field.minimum
        assert not _form_accepts(field.name, field.minimum - nudge), field.minimum
    if field.maximum is None:
        assert _form_accepts(field.name, 10**6)
    else:
        assert _form_accepts(field.name, field.maximum - (0 if field.kind == "int" else nudge)), field.maximum
        assert not _form_accepts(field.name, field.maximum + nudge), field.maximum


def test_each_strategys_own_settings_are_in_the_form_and_act_only_while_it_is_picked():
    settings = system_info().strategy_settings
    assert settings["sft"] == [] and "dpo_beta" in settings["dpo"] and "reward_model" in settings["rlhf"]
    fields = {field.name for field in method_fields(settings)}
    assert fields == {name for names in settings.values() for name in names}, "every strategy's settings have a field"
    assert fields.isdisjoint(f.name for f in (*BASIC_FIELDS, *ADVANCED_FIELDS)), "a setting is in one place only"
    for name in fields:
        assert TrainingConfig.model_fields[name].description, f"{name} has help text"

    form = _form(strategy="dpo", dpo_beta=0.3, reward_model="/x/reward_model")
    assert build_config(without_other_methods_settings(form, settings)).dpo_beta == 0.3
    assert "reward_model" not in without_other_methods_settings(form, settings), "RLHF's field is hidden under DPO"
    sft = without_other_methods_settings({**form, "strategy": "sft"}, settings)
    assert "dpo_beta" not in sft and build_config(sft).dpo_beta == TrainingConfig.model_fields["dpo_beta"].default


def test_the_eval_split_slider_stays_inside_the_configs_range():
    slider = next(field for field in FORM_FIELDS if field.name == "eval_split")
    assert slider.kind == "slider" and _form_accepts("eval_split", slider.minimum) and _form_accepts("eval_split", slider.maximum)


@pytest.mark.parametrize(
    "name,value,words",
    [
        ("max_seq_length", 8, "max_seq_length must be at least 16, got 8"),
        ("lora_dropout", 1.0, "lora_dropout must be in [0, 1), got 1.0"),
        ("max_grad_norm", 0, "max_grad_norm must be positive, got 0"),
        ("weight_decay", -1, "weight_decay must be at least 0, got -1"),
        ("gradient_accumulation_steps", 0, "gradient_accumulation_steps must be positive, got 0"),
        ("eval_steps", -3, "eval_steps must be positive, got -3"),
    ],
)
def test_a_bad_value_typed_in_the_form_gives_the_configs_message(name, value, words):
    _, _, error = render_config(_form(**{name: value}))
    assert error.startswith(f"⚠️ Invalid training config: {words} "), error


def test_job_view_follows_events_to_a_completed_job():
    view = JobView("abc")
    view.add({"type": "status", "status": "queued", "message": "Job queued", "time": 1})
    view.add({"type": "queue", "position": 2, "time": 2})
    assert "position 2" in view.status_markdown()
    view.add({"type": "status", "status": "running", "message": "Training started", "time": 3})
    view.add({"type": "progress", "step": 5, "total_steps": 10, "elapsed_s": 2.0, "eta_s": 2.0, "time": 4})
    view.add({"type": "train", "step": 5, "loss": 2.5, "learning_rate": 1e-3, "time": 4})
    view.add({"type": "eval", "step": 5, "eval_loss": 2.0, "eval_perplexity": 7.39, "eval_mean_token_accuracy": 0.5, "time": 5})
    assert 'data-percent="50"' in view.progress_html() and "5/10 steps" in view.progress_html()
    assert set(view.loss_frame()["series"]) == {"train loss", "eval loss"}
    assert view.loss_frame()["step"].dtype == "int64"
    assert list(view.metrics_frame()["series"]) == ["mean_token_accuracy"], "metrics on a 0-1 scale only"
    view.add({"type": "end", "status": "completed", "model_id": "m1", "model_name": "demo-sft", "time": 6})
    assert view.finished and view.percent() == 100 and "demo-sft" in view.status_markdown()
    assert "Training started" in view.log_text()


def test_job_view_plots_each_methods_own_metrics_and_leaves_out_counts():
    view = JobView("g")
    view.add({"type": "train", "step": 2, "loss": 0.1, "reward": 0.5, "kl": 0.01, "rewards/exact_match/mean": 0.4,
              "rewards/exact_match/std": 0.3, "rewards/format/mean": 0.6, "completions/mean_length": 7.5,
              "clip_ratio/low_mean": 0.0, "reward_std": 0.2, "time": 1})
    assert list(view.metrics_frame()["series"]) == ["mean reward", "reward exact_match", "reward format", "kl"]
    view.add({"type": "eval", "step": 2, "eval_loss": 0.6, "eval_nll_loss": 2.1, "eval_log_odds_ratio": -0.6,
              "eval_log_odds_chosen": 0.3, "eval_logps/chosen": -1.2, "eval_logps/rejected": -1.9,
              "eval_rewards/margins": 0.07, "eval_rewards/accuracies": 0.7, "eval_completions/max_length": 8, "time": 2})
    assert set(view.metrics_frame()["series"][4:]) == {
        "log_odds_chosen", "logps/chosen", "logps/rejected", "rewards/margins", "rewards/accuracies"}
    assert "nll_loss" not in view.log_text() and "max_length" not in view.log_text() and "eval_loss" not in view.log_text()
    assert "loss 0.6000" in view.log_text() and "logps/chosen -1.2000" in view.log_text()


def test_job_view_sends_no_empty_plot_and_shows_failures_in_words():
    view = JobView("x")
    assert view.loss_frame() is None and view.metrics_frame() is None
    view.add({"type": "end", "status": "failed", "error": {"message": "Out of memory.", "hint": "Lower the batch size."}, "time": 1})
    assert "Out of memory. Lower the batch size." in view.status_markdown()


def _first_form(machine: dict, demo_model: str, samples: dict) -> dict:
    """The Finetune form as a fresh page shows it: the demo model on the demo task, with the demo's settings."""
    defaults = {**machine["profile_defaults"], **DEMO_TRAINING}
    values = {field.name: default_value(field.name, defaults) for field in (*BASIC_FIELDS, *ADVANCED_FIELDS)}
    values.update(task="text-generation", model_name=demo_model, provider="huggingface", strategy="sft",
                  dataset=samples["sft"], column_mapping="", compute_specs=machine["compute_profile"])
    return values


def _machine(profile: str) -> dict:
    from modelforge_core.hardware.profiles import profile_defaults

    machine = reference_machine(profile)
    machine["profile_defaults"] = profile_defaults(profile, machine["training_device"], machine["torch"]["bf16"])
    return machine


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("task", TASKS)
def test_use_in_finetune_gives_the_tables_estimate(demo_home, demo_models, samples, profile, task):
    """What "Use in Finetune" puts in the form (over the demo's first form) estimates to the table's peak."""
    from ui.finetune_tab import FinetuneTab

    service = HardwareService(demo_home)
    machine = _machine(profile)
    items = service.recommendations(task, machine)
    assert any(item["demo"] for item in items) and any(not item["demo"] for item in items)
    table = recommendations_frame(items)
    for item, shown in zip(items, table["est. peak GB"]):
        form = _first_form(machine, demo_models["causal"], samples)
        carried = recommendation_form_values(item, machine["profile_defaults"], form["dataset"], samples, DEMO_TRAINING)
        assert set(carried) <= set(FinetuneTab.RECOMMENDATION_FIELDS), set(carried) - set(FinetuneTab.RECOMMENDATION_FIELDS)
        form.update(carried)
        estimate = service.estimate(build_config(form), machine)
        assert estimate["peak_gb"] == item["peak_gb"], (profile, item["model_id"], item["settings"])
        assert shown == round(estimate["peak_gb"], 2)


def _item(samples: dict, demo: bool = False, strategy: str = "sft", task: str = "text-generation") -> dict:
    service = HardwareService("/nonexistent")
    item = next(i for i in service.recommendations(task, _machine("cpu")) if not i["demo"])
    settings = {**item["settings"], "strategy": strategy}
    if demo:
        settings.update(DEMO_TRAINING)
    return {**item, "demo": demo, "settings": settings}


def test_use_in_finetune_clears_what_belonged_to_the_demo(samples):
    machine = _machine("cpu")
    item = _item(samples)
    carried = recommendation_form_values(item, machine["profile_defaults"], samples["sft"], samples, DEMO_TRAINING)
    for name in DEMO_TRAINING:
        if name != "per_device_train_batch_size":
            assert carried[name] == default_value(name, machine["profile_defaults"]), name
    assert carried["learning_rate"] == 2e-4 and carried["max_steps"] == -1 and carried["lora_dropout"] == 0.05
    assert carried["eval_steps"] == 0 and carried["warmup_ratio"] == 0.0 and carried["save_steps"] == 50
    assert carried["per_device_train_batch_size"] == item["settings"]["per_device_train_batch_size"]
    assert carried["model_name"] == item["model_id"] and carried["task"] == "text-generation"
    assert carried["dataset"] == samples["text-generation"], "the demo task becomes the ordinary (alpaca) sample"


def test_use_in_finetune_picks_the_sample_that_suits_the_model_and_keeps_the_users_data(samples):
    profile_defaults = _machine("cpu")["profile_defaults"]
    assert recommendation_form_values(_item(samples), profile_defaults, "/data/mine.jsonl", samples, DEMO_TRAINING)["dataset"] == "/data/mine.jsonl"
    assert recommendation_form_values(_item(samples, strategy="dpo"), profile_defaults, samples["sft"], samples, DEMO_TRAINING)["dataset"] == samples["dpo"]
    summary = _item(samples, task="summarization")
    assert recommendation_form_values(summary, profile_defaults, samples["sft"], samples, DEMO_TRAINING)["dataset"] == samples["summarization"]
    qa = _item(samples, task="extractive-question-answering")
    assert recommendation_form_values(qa, profile_defaults, samples["sft"], samples, DEMO_TRAINING)["dataset"] == samples["extractive-question-answering"]
    demo = recommendation_form_values(_item(samples, demo=True), profile_defaults, samples["text-generation"], samples, DEMO_TRAINING)
    assert demo["dataset"] == samples["sft"] and demo["learning_rate"] == DEMO_TRAINING["learning_rate"], "a demo model keeps the demo's run"
    demo_qa = recommendation_form_values(_item(samples, demo=True, task="extractive-question-answering"), profile_defaults, None, samples, DEMO_TRAINING)
    assert demo_qa["dataset"] == samples["qa-demo"]


def test_one_formatter_words_every_error_with_its_hint():
    exc = DatasetValidationError("data.jsonl: row 3 has no 'output'.", "Add the field.")
    assert error_text(exc) == "⚠️ data.jsonl: row 3 has no 'output'. Add the field."
    assert error_text(exc, heading="**Not started**", kind=True) == (
        "⚠️ **Not started** (DatasetValidationError): data.jsonl: row 3 has no 'output'. Add the field."
    )
    assert error_text(exc, kind=True, mark=False) == "DatasetValidationError: data.jsonl: row 3 has no 'output'. Add the field."
    assert error_text(exc, heading="data.jsonl", mark=False) == "data.jsonl: data.jsonl: row 3 has no 'output'. Add the field."
    assert error_text(ConfigurationError("Bad value.", ""), mark=False) == "Bad value.", "no hint, no trailing space"


def test_the_machine_is_read_by_attribute_and_a_missing_gpu_reading_is_left_out(tmp_path):
    report = HardwareService(tmp_path).detect()
    gpu = {"index": 0, "name": "RTX 4090", "memory_total_gb": 24.0, "memory_free_gb": 20.0, "memory_used_gb": 4.0,
           "driver": "550.54", "temperature_c": 41}
    machine = Machine.from_report({**report, "gpus": [gpu]})
    assert machine.gpus[0].temperature_c == 41 and machine.gpus[0].utilization_percent is None
    assert machine.compute_profile == report["compute_profile"] and machine.report["gpus"] == [gpu]
    assert machine.profile_defaults == report["profile_defaults"] and machine.cpu.model == report["cpu"]["model"]
    text = hardware_markdown(machine)
    assert "**GPU 0**: RTX 4090, 24.0 GB (20.0 GB free), driver 550.54,  41°C" in text and "busy" not in text


def test_detecting_again_changes_the_machine_of_that_session_only(tmp_path):
    start = HardwareService(tmp_path).machine()
    again = Machine.from_report({**start.report, "compute_profile": "high_end", "profile_reason": "read again"})
    asked = []

    class Hardware:
        def machine(self):
            return again

        def recommendations(self, task, machine, with_time=False):
            asked.append(machine["compute_profile"])
            return [{"model_id": f"{machine['compute_profile']}-model", "task": task}]

    catalog = SimpleNamespace(ensure_demo_models=lambda: None, offline=lambda: False)
    from modelforge_core.services.info import system_info

    ctx = SimpleNamespace(machine=start, hardware=Hardware(), catalog=catalog, info=system_info())
    with gr.Blocks():
        tab = HardwareTab(ctx)
    mine, other = copy.deepcopy(tab.session.value), copy.deepcopy(tab.session.value)  # what Gradio gives two sessions
    assert tab.recommendation("text-generation", f"{start.compute_profile}-model", mine) is not None
    tab.recommendations("text-generation", other)
    assert "`high_end`" in tab.detect(mine) and mine.machine is again
    assert other.machine.compute_profile == start.compute_profile and ctx.machine is start, "the other session is untouched"
    assert tab.recommendation("text-generation", "high_end-model", mine) is not None
    tab.recommendations("text-generation", other)
    assert asked == [start.compute_profile, start.compute_profile, "high_end"], "each reading is asked once per session"


def test_stop_ends_only_the_answer_in_progress_of_its_own_session():
    from ui.playground_tab import PlaygroundSession, PlaygroundTab

    mine, other = copy.deepcopy(PlaygroundSession()), copy.deepcopy(PlaygroundSession())
    PlaygroundTab.stop_generation(mine)  # nothing streams yet: nothing to stop
    answer, others = mine.new_answer(), other.new_answer()
    PlaygroundTab.stop_generation(mine)
    assert answer.is_set() and not others.is_set()
    assert not mine.new_answer().is_set(), "the next answer starts unstopped"


def test_submit_when_ready_readies_the_named_model_then_submits(services):
    _, _, db = services
    readied, submitted = [], []
    catalog = SimpleNamespace(ensure_ready=lambda name: readied.append(name))
    training = TrainingService(db, services[0].settings, catalog)
    training.submit = lambda config: submitted.append((list(readied), config)) or {"id": "j"}
    training.submit_when_ready({"model_name": "/demo/causal", "dataset": "d.jsonl"})
    assert submitted == [(["/demo/causal"], {"model_name": "/demo/causal", "dataset": "d.jsonl"})], "readied before submitting"
    training.submit_when_ready(["not", "a", "config"])  # submit says what is wrong with it
    assert readied == ["/demo/causal"] and len(submitted) == 2
    training.close()


def test_the_ui_and_both_apis_submit_through_submit_when_ready():
    root = Path(__file__).resolve().parent.parent
    sources = {path.name: path.read_text(encoding="utf-8") for path in (*root.glob("ui/*.py"), *root.glob("api/*.py"))}
    assert [name for name, text in sources.items() if "training.submit(" in text] == []
    assert {name for name, text in sources.items() if "submit_when_ready(" in text} == {
        "finetune_tab.py", "api_endpoints.py", "finetuning_router.py"
    }


def test_a_model_card_comes_in_its_front_matter_and_its_body(services, settings):
    _, models, _ = services
    card = "---\nlibrary_name: peft\ntags:\n- modelforge\n---\n\n# digits\n\nA model.\n\n---\n\nMore.\n"
    assert ModelCardSections.of(card) == ModelCardSections("library_name: peft\ntags:\n- modelforge", "# digits\n\nA model.\n\n---\n\nMore.")
    assert ModelCardSections.of("# no front matter\n---\n") == ModelCardSections("", "# no front matter\n---\n")
    folder = settings.models_dir / "digits"
    folder.mkdir(parents=True)
    fields = dict(base_model="/models/demo", task="text-generation", strategy="sft", provider="huggingface", config={}, metrics={})
    model = models.register_model(name="digits", path=folder, **fields)
    assert models.model_card(model["id"]) is None, "no README.md, no card"
    (folder / "README.md").write_text(card, encoding="utf-8")
    assert models.model_card("digits").body.startswith("# digits")


def test_the_several_gpu_fields_show_only_with_more_than_one_gpu_and_reach_the_config():
    from ui.finetune_form import config_to_form_values, device_fields, values_to_config_dict

    assert device_fields(1) == () and device_fields(0) == ()
    assert [f.name for f in device_fields(2)] == ["num_processes", "gpu_ids", "distributed"]
    assert dict(zip(["num_processes", "gpu_ids", "distributed"], [f.kind for f in device_fields(2)])) == {
        "num_processes": "int", "gpu_ids": "text", "distributed": "dropdown"}
    data = values_to_config_dict({"num_processes": 2.0, "gpu_ids": "0, 1", "distributed": "fsdp"})
    assert data == {"num_processes": 2, "gpu_ids": [0, 1], "distributed": "fsdp"}
    assert config_to_form_values({"gpu_ids": [0, 1]}) == {"gpu_ids": "0, 1"}
    assert config_to_form_values({"gpu_ids": None}) == {"gpu_ids": ""}
    with pytest.raises(ConfigurationError, match="'0, one' is not a list of GPU numbers"):
        values_to_config_dict({"gpu_ids": "0, one"})


def test_the_live_load_says_which_job_holds_which_gpu():
    from ui.hardware_tab import live_markdown

    reading = {"gpus": [{"index": i, "memory_used_gb": 1.0, "memory_total_gb": 48.0, "utilization_percent": 90} for i in (0, 1)],
               "cpu_percent": 12, "ram_used_gb": 8, "ram_total_gb": 64}
    text = live_markdown(reading, {"1": "ab12cd34ef56"})
    assert "GPU 0: 1.0 / 48.0 GB, 90% busy, free for training" in text
    assert "GPU 1: 1.0 / 48.0 GB, 90% busy, training job `ab12cd34ef56`" in text


def test_the_trackers_are_a_multiselect_whose_empty_choice_means_none():
    field = next(f for f in ADVANCED_FIELDS if f.name == "trackers")
    assert field.kind == "multiselect" and field.choices == ("tensorboard", "mlflow", "wandb", "trackio")
    assert default_value("trackers", {}) == ["tensorboard"]
    assert values_to_config_dict({"trackers": ["tensorboard", "mlflow"]})["trackers"] == ["tensorboard", "mlflow"]
    assert values_to_config_dict({"trackers": []})["trackers"] == [], "none chosen: the run logs to no tracker"
    assert config_to_form_values({"trackers": ["wandb"], "tracking_uri": None})["tracking_uri"] == ""


def test_the_sweep_field_reads_settings_with_lists_of_values():
    from ui.finetune_form import parse_sweep

    assert parse_sweep("") is None and parse_sweep("  ") is None
    assert parse_sweep("learning_rate=1e-4, 3e-4, 1e-3; lora_r=8,16") == {
        "learning_rate": [1e-4, 3e-4, 1e-3], "lora_r": [8, 16]}
    assert parse_sweep("lr_scheduler_type=cosine, linear") == {"lr_scheduler_type": ["cosine", "linear"]}
    with pytest.raises(ConfigurationError, match="'learning_rate' is not a setting with its values") as info:
        parse_sweep("learning_rate")
    assert "learning_rate=1e-4, 3e-4, 1e-3" in info.value.hint
