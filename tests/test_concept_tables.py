"""One table per concept: tasks, model kinds, fit verdicts, value types and Hub ids are each written once,
and everything that names them agrees with that one place."""

from __future__ import annotations

import json

import datasets
import pytest

from modelforge_core.cli_hardware import verdict_text as cli_verdict_text
from modelforge_core.data.formats import RecordShape
from modelforge_core.data.loading import load_dataset_source
from modelforge_core.data.samples import SAMPLE_DATASETS, SAMPLES_DIR
from modelforge_core.demo import BUILDERS, demo_model_folder
from modelforge_core.evaluation.dataset_validator import DatasetValidator
from modelforge_core.evaluation.task_eval import TASKS_WITH_METRICS
from modelforge_core.exceptions import ConfigurationError, DatasetValidationError
from modelforge_core.hardware.catalog import CATALOG
from modelforge_core.hardware.estimator import Verdict
from modelforge_core.model_card import is_hub_id, render_model_card
from modelforge_core.model_kinds import AUTO_CLASSES, ModelKind
from modelforge_core.providers.model_classes import check_model_serves_task
from modelforge_core.schemas import TASKS, TrainingConfig
from modelforge_core.schemas.tasks import PREFERENCE_SHAPES, TASK_TABLE, Task, supervised_shapes
from modelforge_core.services.hardware_service import HardwareService
from modelforge_core.services.model_catalog import DEMO_LABELS, ModelCatalog, demo_kind_for_task
from modelforge_core.settings import Settings
from modelforge_core.strategies.lora import PEFT_TASK_TYPES
from modelforge_core.strategies.sft_strategy import SFTStrategy
from modelforge_core.strategies.strategy_factory import StrategyFactory
from ui.memory_estimate import verdict_text as ui_verdict_text

# --- tasks -----------------------------------------------------------------------------------------


def test_every_schema_task_has_a_full_table_row():
    assert TASKS == tuple(task.value for task in Task) == tuple(TASK_TABLE)
    for task, facts in TASK_TABLE.items():
        assert facts.label and facts.shapes and facts.pipeline_tag and facts.suitable_models, task
        assert facts.model_kind in BUILDERS and facts.model_kind in PEFT_TASK_TYPES, task
        assert SAMPLE_DATASETS[task] == facts.sample_file and (SAMPLES_DIR / facts.sample_file).is_file(), task
        assert (SAMPLES_DIR / SAMPLE_DATASETS[facts.demo_sample]).is_file(), task
    assert TASKS_WITH_METRICS == tuple(task for task, facts in TASK_TABLE.items() if facts.has_task_metrics)


def test_every_alias_names_its_task_in_a_config():
    for task, facts in TASK_TABLE.items():
        for alias in facts.aliases:
            config = TrainingConfig(task=f" {alias.upper()} ", model_name="m", dataset="d.jsonl")
            assert config.task == task.value and type(config.task) is str, alias


def test_every_strategy_trains_only_shapes_its_tasks_accept():
    for name in StrategyFactory.names():
        strategy = StrategyFactory.get_class(name)
        task_shapes = {shape for task in strategy.supported_tasks for shape in TASK_TABLE[task].shapes}
        assert set(strategy.accepted_shapes) <= task_shapes, name


def test_sft_accepts_exactly_its_tasks_shapes_but_preference_pairs():
    union = {shape for task in SFTStrategy.supported_tasks for shape in TASK_TABLE[task].shapes}
    assert set(SFTStrategy.accepted_shapes) == union - set(PREFERENCE_SHAPES)
    assert SFTStrategy.accepted_shapes == supervised_shapes(SFTStrategy.supported_tasks)
    assert RecordShape.EXTRACTIVE_QA in SFTStrategy.accepted_shapes and RecordShape.PREFERENCE not in SFTStrategy.accepted_shapes


def test_a_task_accepts_preference_pairs_exactly_where_a_preference_strategy_trains_it():
    preference_strategies = [
        StrategyFactory.get_class(name) for name in StrategyFactory.names()
        if set(StrategyFactory.get_class(name).accepted_shapes) <= set(PREFERENCE_SHAPES)
    ]
    assert preference_strategies
    for task, facts in TASK_TABLE.items():
        trained = any(task in strategy.supported_tasks for strategy in preference_strategies)
        assert (RecordShape.PREFERENCE in facts.shapes) == trained, task


def test_every_task_demo_model_and_catalog_model_is_of_the_tasks_kind(tmp_path):
    catalog = ModelCatalog(Settings(home=tmp_path))
    assert set(DEMO_LABELS) == set(BUILDERS)
    assert sorted(catalog.demo_model_paths()) == sorted(str(demo_model_folder(catalog.settings, kind)) for kind in BUILDERS)
    for task, facts in TASK_TABLE.items():
        assert demo_kind_for_task(task) is facts.model_kind
        assert catalog.demo_model_for_task(task) == str(demo_model_folder(catalog.settings, facts.model_kind))
    for entry in CATALOG:
        auto_class = check_model_serves_task(entry.model_id, entry.config, entry.task)
        assert ModelKind.of_auto_class(auto_class) is TASK_TABLE[entry.task].model_kind, entry.model_id


# --- model kinds -----------------------------------------------------------------------------------


def test_model_kinds_map_every_auto_class_once():
    assert set(AUTO_CLASSES) == set(ModelKind)
    assert len(set(AUTO_CLASSES.values())) == len(AUTO_CLASSES)
    for kind in ModelKind:
        assert ModelKind.of_auto_class(kind.auto_class) is kind
    # the RLHF reward model is estimated and loaded as a sequence classifier: a task head, no LM logits
    assert ModelKind.of_auto_class("AutoModelForSequenceClassification").has_task_head
    assert not ModelKind.CAUSAL.has_task_head and not ModelKind.SEQ2SEQ.has_task_head
    with pytest.raises(ValueError, match="AutoModelForCausalLM"):
        ModelKind.of_auto_class("AutoModelForMaskedLM")


@pytest.mark.parametrize("task", TASKS)
def test_a_model_card_without_model_files_follows_the_tasks_table_row(tmp_path, task):
    facts = TASK_TABLE[task]
    text = render_model_card(
        tmp_path, name="m", base_model="org/base", task=task, strategy="sft", provider="huggingface",
        dataset="data.jsonl", hyperparameters={}, metrics={},
    )
    assert f'pipeline_tag: "{facts.pipeline_tag}"' in text
    assert f"AutoPeft{facts.model_kind.auto_class.removeprefix('Auto')}.from_pretrained" in text


# --- recommendations -------------------------------------------------------------------------------


def test_recommendation_strategies_are_the_registered_strategies_that_train_the_task():
    assert StrategyFactory.strategies_for("text-generation") == ["sft", "qlora", "dpo", "kto", "orpo", "simpo", "grpo", "rlhf"]
    assert StrategyFactory.strategies_for("summarization") == ["sft", "qlora"]
    assert StrategyFactory.strategies_for("extractive-question-answering") == ["sft"]

    class SummaryOnly(SFTStrategy):
        supported_tasks = ("summarization",)

    StrategyFactory.register("summary-only", SummaryOnly)
    try:
        assert StrategyFactory.strategies_for("summarization") == ["sft", "qlora", "summary-only"]
    finally:
        StrategyFactory.unregister("summary-only")


def test_recommendations_for_an_unknown_task_name_the_known_tasks(tmp_path):
    with pytest.raises(ConfigurationError) as info:
        HardwareService(tmp_path).recommendations("translation")
    assert all(task in info.value.hint for task in StrategyFactory.tasks())


# --- verdicts --------------------------------------------------------------------------------------


def test_the_cli_and_the_ui_show_the_verdicts_words():
    for verdict in Verdict:
        assert cli_verdict_text(verdict.value).lower() == verdict.words
        assert ui_verdict_text(verdict.value).endswith(" " + verdict.words)
    assert json.dumps({"verdict": Verdict.WILL_NOT_FIT}) == '{"verdict": "will_not_fit"}'


# --- value types and Hub ids -----------------------------------------------------------------------


@pytest.mark.parametrize("value,words", [(None, "null"), ("text", "a string"), (["a"], "a list")])
def test_the_loader_and_the_validator_describe_a_value_the_same_way(tmp_path, value, words):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([value]), encoding="utf-8")
    with pytest.raises(DatasetValidationError) as info:
        load_dataset_source(str(path))
    assert f"got {words}." in info.value.message
    rows = datasets.Dataset.from_list([{"messages": [value]}])
    issue = DatasetValidator(min_rows=1).validate(rows, RecordShape.CONVERSATIONAL).issues[0]
    assert issue.message.endswith(f"got {words}"), issue.message


@pytest.mark.parametrize("value", ["org/data", "org/Qwen2.5-set", "name", "org/notes.txt", "org/name.v2", "a..b", "org/a/b"])
def test_the_loader_and_the_model_card_agree_on_what_a_hub_id_is(monkeypatch, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetValidationError) as info:
        load_dataset_source(value)
    loaded_as_hub_id = "offline" in info.value.message
    assert loaded_as_hub_id == is_hub_id(value), value


def _readme_table(heading_row: str) -> list[list[str]]:
    """The rows of README.md's table that starts with ``heading_row``, as lists of cell texts."""
    from pathlib import Path

    lines = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(heading_row) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_readmes_shapes_and_strategies_tables_name_what_the_code_does():
    import re

    from modelforge_core.data.shape_strategies import strategies_for_shape
    from modelforge_core.strategies.strategy_factory import StrategyFactory

    shapes = _readme_table("| shape | columns | trained by |")
    assert {row[0].strip("`") for row in shapes} == {shape.value for shape in RecordShape}
    for name, _, trained_by in shapes:
        named = re.findall(r"`([a-z]+)`", trained_by.split("(")[0])
        assert named == strategies_for_shape(RecordShape(name.strip("`"))), (name, trained_by)
    strategies = _readme_table("| strategy | what it does | tasks |")
    assert [row[0].strip("`") for row in strategies] == StrategyFactory.names()
    for name, _, tasks in strategies:
        assert tasks.split(", ") == list(StrategyFactory.get_class(name.strip("`")).supported_tasks), name
