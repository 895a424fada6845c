"""The strategy and provider protocols are complete: a new one, written from the protocol alone and
registered with one line, trains the demo model through the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelforge_core.data.formats import RecordShape
from modelforge_core.exceptions import ConfigurationError, ModelAccessError, ProviderError
from modelforge_core.providers import ModelProvider
from modelforge_core.providers.provider_factory import ProviderFactory
from modelforge_core.services.run_validation import validate_run
from modelforge_core.strategies import TrainingStrategy
from modelforge_core.strategies.strategy_factory import StrategyFactory
from modelforge_core.training.events import EventLog
from modelforge_core.training.pipeline import run_training
from modelforge_core.training.run_files import RunFiles

BUILT_IN_STRATEGIES = ["sft", "qlora", "dpo", "kto", "orpo", "simpo", "grpo", "rlhf"]
BUILT_IN_PROVIDERS = ["huggingface", "unsloth"]
LOADED_CLASSES: list[str] = []  # what TinyAutoProvider.load_model was asked to load


def protocol_members(protocol: type) -> set[str]:
    """The members a Protocol declares: its annotated attributes and its methods."""
    methods = {name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")}
    return set(protocol.__annotations__) | methods


def public_members(instance: object) -> set[str]:
    return {name for name in dir(instance) if not name.startswith("_")}


class TinySFTStrategy:
    """Plain-text rows through TRL's SFTTrainer with the provider's LoRA: the protocol's members and no more."""

    supported_tasks = ("text-generation",)
    accepted_shapes = (RecordShape.TEXT,)
    settings = ()

    def __init__(self, provider: ModelProvider, output_dir: Path):
        self._provider = provider
        self._output_dir = output_dir
        self.requires_4bit = False
        self.reports_perplexity = True
        self.final_metric_keys = {"eval_loss": "eval_loss", "eval_perplexity": "perplexity"}
        self.notes: list[str] = []

    def get_strategy_name(self) -> str:
        return "tiny-sft"

    def get_required_dataset_fields(self) -> list[str]:
        return ["text"]

    def prepare_model(self, model, config):
        lora = {"r": config.lora_r, "lora_alpha": config.lora_alpha, "lora_dropout": 0.0, "target_modules": config.target_modules}
        return self._provider.attach_lora(model, lora, False, config.seed)

    def prepare_dataset(self, dataset, tokenizer, config):
        return dataset.select_columns(["text"])

    def task_evaluator(self, tokenizer, config, eval_rows):
        return None

    def create_trainer(self, model, train_dataset, eval_dataset, tokenizer, config, callbacks):
        from trl import SFTConfig, SFTTrainer

        args = SFTConfig(
            output_dir=str(self._output_dir), max_steps=config.max_steps, per_device_train_batch_size=2,
            learning_rate=config.learning_rate, logging_steps=1, save_strategy="no", report_to="none", bf16=False,
            eval_strategy="steps" if eval_dataset is not None else "no", eval_steps=config.max_steps,
            dataset_text_field="text", max_length=config.max_seq_length, disable_tqdm=True,
        )
        self.notes.append("Tiny strategy: plain SFTTrainer")
        return SFTTrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                          processing_class=tokenizer, callbacks=callbacks)

    def extra_metrics(self, trainer) -> dict:
        return {"tiny_trained_steps": trainer.state.global_step}


class TinyAutoProvider:
    """transformers' Auto classes on a local folder and peft's LoRA: the protocol's members and no more."""

    def get_provider_name(self) -> str:
        return "tiny-auto"

    def check_available(self) -> None:
        return None

    def validate_model_access(self, model_id: str, model_class) -> None:
        if not (Path(model_id) / "config.json").is_file():
            raise ModelAccessError(f"{model_id} is not a model folder.")

    def load_tokenizer(self, model_id: str, **kwargs):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_id)
        tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
        return tokenizer

    def load_model(self, model_id: str, model_class, quantization_config, **kwargs):
        import transformers

        LOADED_CLASSES.append(model_class)
        return getattr(transformers, model_class).from_pretrained(model_id, quantization_config=quantization_config)

    def attach_lora(self, model, lora_kwargs: dict, gradient_checkpointing: bool, seed: int):
        from peft import LoraConfig, get_peft_model

        return get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora_kwargs))


@pytest.fixture
def tiny_strategy():
    StrategyFactory.register("tiny-sft", TinySFTStrategy)
    yield "tiny-sft"
    StrategyFactory.unregister("tiny-sft")


@pytest.fixture
def tiny_provider():
    ProviderFactory.register("tiny-auto", TinyAutoProvider)
    yield "tiny-auto"
    ProviderFactory.unregister("tiny-auto")


def _train(tmp_path: Path, config: dict) -> tuple[dict, list[dict], Path]:
    """validate_run, then run_training in this process (where the test's registrations are)."""
    checked = validate_run(config)
    run = RunFiles(tmp_path / "run")
    run.root.mkdir(parents=True)
    events = EventLog(run.events)
    result = run_training(checked, run, events, tmp_path / "model")
    assert result.status == "completed", result
    return result.metrics, events.read_all(), result.output_dir


def test_the_test_classes_are_written_from_the_protocols_alone():
    strategy = TinySFTStrategy(TinyAutoProvider(), Path("unused"))
    assert isinstance(strategy, TrainingStrategy)
    assert public_members(strategy) == protocol_members(TrainingStrategy)
    assert isinstance(TinyAutoProvider(), ModelProvider)
    assert public_members(TinyAutoProvider()) == protocol_members(ModelProvider)


def test_a_strategy_from_the_protocol_registered_in_one_line_trains_through_the_pipeline(tmp_path, make_config, tiny_strategy):
    rows = tmp_path / "text.jsonl"
    rows.write_text("".join(json.dumps({"text": f"The number {i} is written {i:b} in binary."}) + "\n" for i in range(16)))
    metrics, events, output_dir = _train(tmp_path, make_config(strategy=tiny_strategy, dataset=str(rows), max_steps=2, eval_split=0.25))

    assert metrics["steps"] == 2 and metrics["tiny_trained_steps"] == 2, "the strategy's extra_metrics reach the final metrics"
    assert metrics["eval_loss"] > 0 and metrics["perplexity"] > 1, "final_metric_keys and reports_perplexity are read"
    logs = [e["message"] for e in events if e["type"] == "log"]
    assert "Tiny strategy: plain SFTTrainer" in logs, "the strategy's notes are logged"
    assert (output_dir / "adapter_config.json").is_file()
    assert json.loads((output_dir / "modelforge.json").read_text())["strategy"] == "tiny-sft"


def test_a_provider_from_the_protocol_registered_in_one_line_trains_through_the_pipeline(tmp_path, make_config, tiny_provider):
    LOADED_CLASSES.clear()
    metrics, events, output_dir = _train(tmp_path, make_config(provider=tiny_provider, max_steps=2, eval_split=0.0))

    assert LOADED_CLASSES == ["AutoModelForCausalLM"], "the pipeline loaded the model through the registered provider"
    assert metrics["steps"] == 2
    assert any("(tiny-auto provider)" in e.get("message", "") for e in events if e["type"] == "phase")
    assert (output_dir / "adapter_config.json").is_file(), "LoRA through the provider's attach_lora"


def test_registering_is_one_line_and_unregistering_leaves_no_trace():
    StrategyFactory.register("tiny-sft", TinySFTStrategy)
    try:
        assert StrategyFactory.names() == [*BUILT_IN_STRATEGIES, "tiny-sft"]
        assert StrategyFactory.get_class("tiny-sft") is TinySFTStrategy
        StrategyFactory.check_task("tiny-sft", "text-generation")
        with pytest.raises(ValueError, match="already registered"):
            StrategyFactory.register("tiny-sft", TinySFTStrategy)
    finally:
        StrategyFactory.unregister("tiny-sft")
    assert StrategyFactory.names() == BUILT_IN_STRATEGIES
    with pytest.raises(ConfigurationError, match="Unknown strategy 'tiny-sft'. Valid strategies: sft, qlora, dpo, kto, orpo, simpo, grpo, rlhf."):
        StrategyFactory.get_class("tiny-sft")

    ProviderFactory.register("tiny-auto", TinyAutoProvider)
    try:
        assert isinstance(ProviderFactory.create("tiny-auto"), TinyAutoProvider)
        assert ProviderFactory.available()["tiny-auto"] is None
    finally:
        ProviderFactory.unregister("tiny-auto")
    assert ProviderFactory.names() == BUILT_IN_PROVIDERS
    with pytest.raises(ProviderError, match="Unknown provider 'tiny-auto'. Valid providers: huggingface, unsloth."):
        ProviderFactory.create("tiny-auto")


@pytest.mark.parametrize("name", BUILT_IN_STRATEGIES)
def test_each_registered_strategy_has_every_protocol_member(name, tmp_path):
    strategy_class = StrategyFactory.get_class(name)
    strategy = StrategyFactory.create(name, provider=ProviderFactory.create("huggingface"), output_dir=tmp_path)
    assert protocol_members(TrainingStrategy) - public_members(strategy) == set()
    assert isinstance(strategy, TrainingStrategy)
    assert strategy_class.supported_tasks and strategy_class.accepted_shapes, "read on the class, before any run"


@pytest.mark.parametrize("name", BUILT_IN_PROVIDERS)
def test_each_registered_provider_has_every_protocol_member(name):
    provider = ProviderFactory.create(name)
    assert protocol_members(ModelProvider) - public_members(provider) == set()
    assert isinstance(provider, ModelProvider)


@pytest.mark.parametrize("protocol", [TrainingStrategy, ModelProvider])
def test_every_protocol_method_says_what_it_does(protocol):
    for name in protocol_members(protocol) - set(protocol.__annotations__):
        assert getattr(protocol, name).__doc__, f"{protocol.__name__}.{name} has no docstring"
