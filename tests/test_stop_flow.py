"""A stop asked in the middle of an epoch: the trainer saves and ends, and evaluates nothing on the way out."""

from __future__ import annotations

from transformers import TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback

from modelforge_core.training.callbacks import EventCallback
from modelforge_core.training.events import EventLog


def _handler(tmp_path, **args):
    events = EventLog(tmp_path / "events.jsonl")
    callback = EventCallback(events, tmp_path / "STOP", None)
    training_args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[], **args)
    handler = CallbackHandler([DefaultFlowCallback(), callback], None, None, None, None)
    state = TrainerState(max_steps=5000, global_step=180, epoch=2.7)
    state.eval_steps, state.save_steps, state.logging_steps = args.get("eval_steps") or 500, args.get("save_steps", 500), 5
    return handler, training_args, state, callback


def test_a_stop_mid_epoch_saves_and_skips_the_epoch_end_evaluation(tmp_path):
    handler, args, state, callback = _handler(tmp_path, eval_strategy="epoch", save_strategy="steps", save_steps=50)
    (tmp_path / "STOP").touch()
    control = handler.on_step_end(args, state, TrainerControl())
    assert control.should_training_stop and control.should_save, "the stop saves a checkpoint and ends"
    assert callback.stop_requested
    control.should_save = False  # the trainer saved
    control = handler.on_epoch_end(args, state, control)
    assert not control.should_evaluate, "the epoch a stop cut short is not evaluated (minutes with generated metrics)"


def test_a_stop_on_an_evaluation_step_does_not_evaluate(tmp_path):
    handler, args, state, _ = _handler(tmp_path, eval_strategy="steps", eval_steps=60, save_strategy="steps", save_steps=50)
    (tmp_path / "STOP").touch()
    control = handler.on_step_end(args, state, TrainerControl())  # step 180: an evaluation step
    assert control.should_save and not control.should_evaluate


def test_without_a_stop_the_epoch_is_evaluated_as_configured(tmp_path):
    handler, args, state, _ = _handler(tmp_path, eval_strategy="epoch", save_strategy="steps", save_steps=50)
    control = handler.on_epoch_end(args, state, handler.on_step_end(args, state, TrainerControl()))
    assert control.should_evaluate and not control.should_training_stop
