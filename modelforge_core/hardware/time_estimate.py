"""How long a run takes on this machine, before it starts.

The run's work, from the model's shape and the tokens it will see: FLOPs per optimizer step (2 per
matmul weight per token forward, the attention's share by sequence length; a backward pass twice the
forward for full fine-tuning, once for LoRA, whose frozen weights need no gradient; one more forward
with gradient checkpointing; a preference pair is two sequences, DPO and KTO add the reference model's
forward) and model calls per step (each costs a fixed overhead: kernel launches, Python, the optimizer).

The machine's speed: seconds = ``overhead_s`` x calls + FLOPs / ``flops_per_s``, fitted to this machine's
earlier runs (their recorded work and time), starting from a short matmul probe and a prior overhead.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

# strategy -> (sequences per row, extra forward passes per row: a reference model's, KTO's KL batch)
SEQUENCES = {"dpo": (2, 1), "kto": (1, 2), "orpo": (2, 0), "simpo": (2, 0), "rlhf": (1, 2), "grpo": (1, 1)}
ROUGH = {"grpo": "GRPO's generation is not counted", "rlhf": "PPO's generation is not counted"}
PRIOR_EFFICIENCY = 0.5  # share of the matmul probe's speed a training step reaches
PRIOR_OVERHEAD_S = {"cpu": 0.01, "cuda": 0.01, "mps": 0.02}  # seconds per model call beyond its FLOPs
PRIOR_SETUP_S = {"cpu": 12.0, "cuda": 30.0, "mps": 20.0}  # imports, tokenizing, saving: before the first record
PRIOR_LOAD_S_PER_BILLION = {"cpu": 12.0, "cuda": 6.0, "mps": 10.0}  # reading and converting the weights
# A generated token's call (a forward of one row, cached keys) against a training call's fixed cost (forward,
# backward and optimizer step over a batch): measured on the dev machine, 5 ms against about 45 ms.
DECODE_CALL_SHARE = 0.12
EVAL_CALL_SHARE = 0.35  # an evaluation batch: a forward alone, about a third of forward, backward and step
MIN_INDEPENDENCE = 0.01  # below this share the runs' calls and FLOPs move together: only their common scale is fitted


@dataclass
class RunWork:
    """What one run computes: its optimizer steps, model calls and FLOPs, in training and in evaluation."""

    steps: int
    train_calls: float  # model calls in the whole training loop
    train_flops: float
    evaluations: int
    eval_calls: float  # model calls in all evaluations together, in training calls' worth of fixed cost
    eval_flops: float
    tokens_per_step: float
    params: int = 0  # the model's weights: loading them is most of a large model's setup
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def matmul_params(shape: Any) -> int:
    """Weights a token passes through in matmuls: every linear layer and the output layer (vocabulary x hidden)."""
    return shape.linear_params + shape.vocab_size * shape.hidden_size


def forward_flops(shape: Any, tokens: float, length: float) -> float:
    """FLOPs of one forward pass over ``tokens`` tokens in sequences of about ``length`` tokens."""
    attention = 2 * shape.num_layers * length * shape.hidden_size  # causal scores and weighted sum
    return tokens * (2 * matmul_params(shape) + attention)


def padded_length(lengths: list[int], batch: int, padding_free: bool, seed: int = 0) -> float:
    """Tokens per row a batch computes on: the mean length without padding (packing, padding-free), else the
    expected longest row of ``batch`` random rows (each row is padded to it)."""
    if not lengths:
        return 0.0
    if padding_free or batch <= 1:
        return sum(lengths) / len(lengths)
    rng = random.Random(seed)
    draws = [max(rng.choices(lengths, k=batch)) for _ in range(256)]
    return sum(draws) / len(draws)


def run_work(shape: Any, config: Any, train_lengths: list[int], train_rows: int, eval_lengths: list[int],
             eval_rows: int, generated_tokens: int = 0) -> RunWork:
    """The work of ``config``'s run: ``*_lengths`` are tokens per sequence of sampled rows (train and eval),
    ``*_rows`` how many rows each split has; ``generated_tokens``: tokens the task's metrics (ROUGE, F1) make
    one at a time at each evaluation, each a model call of its own."""
    sequences, extra_forwards = SEQUENCES.get(config.strategy, (1, 0))
    world = getattr(config, "world_size", 1)
    rows_per_step = config.per_device_train_batch_size * config.gradient_accumulation_steps * world
    steps = config.max_steps if config.max_steps and config.max_steps > 0 else (
        math.ceil(train_rows / rows_per_step) * math.ceil(config.num_train_epochs))
    fast = bool(config.packing or config.padding_free)
    length = padded_length(train_lengths, config.per_device_train_batch_size * sequences, fast, config.seed)
    backward = 2.0 if config.finetuning_type == "full" else 1.0
    passes = 1 + backward + (1 if config.gradient_checkpointing else 0) + extra_forwards
    tokens_per_step = rows_per_step * sequences * length
    step_flops = forward_flops(shape, tokens_per_step, length) * passes
    calls_per_step = config.gradient_accumulation_steps * (1 + (1 if extra_forwards else 0))

    evaluations = 0
    eval_flops = eval_calls = 0.0
    if eval_rows and eval_lengths:
        every = config.eval_steps or 0
        # at step 0 (the base model), then every eval_steps (or each epoch), and a last one at the end
        evaluations = 1 + (steps // every + (1 if steps % every else 0) if every else math.ceil(config.num_train_epochs))
        eval_length = padded_length(eval_lengths, config.per_device_eval_batch_size * sequences, False, config.seed)
        eval_tokens = eval_rows * sequences * eval_length
        eval_flops = evaluations * forward_flops(shape, eval_tokens, eval_length) * (1 + extra_forwards)
        eval_calls = (evaluations * math.ceil(eval_rows / config.per_device_eval_batch_size) * (1 + (1 if extra_forwards else 0))
                      * EVAL_CALL_SHARE)
        eval_calls += evaluations * generated_tokens * DECODE_CALL_SHARE
        eval_flops += evaluations * generated_tokens * 2 * matmul_params(shape)
    notes = [f"Rough: {ROUGH[config.strategy]}."] if config.strategy in ROUGH else []
    return RunWork(steps, steps * calls_per_step / world, step_flops * steps / world, evaluations, eval_calls, eval_flops,
                   tokens_per_step, int(getattr(shape, "total_params", 0)), notes)


@dataclass
class MachineSpeed:
    """seconds = overhead_s x model calls + FLOPs / flops_per_s; before the first step, setup_s plus
    load_s_per_param x the model's weights."""

    device: str
    overhead_s: float
    flops_per_s: float
    setup_s: float
    basis: str
    runs: int = 0
    load_s_per_param: float = 0.0

    @classmethod
    def prior(cls, device: str, probe_flops_per_s: float) -> MachineSpeed:
        return cls(device, PRIOR_OVERHEAD_S.get(device, 0.01), probe_flops_per_s * PRIOR_EFFICIENCY,
                   PRIOR_SETUP_S.get(device, 20.0), "a matmul probe of this machine (no earlier run here yet)",
                   load_s_per_param=PRIOR_LOAD_S_PER_BILLION.get(device, 10.0) / 1e9)

    def setup_seconds(self, params: int) -> float:
        return self.setup_s + self.load_s_per_param * params

    @classmethod
    def fitted(cls, prior: MachineSpeed, records: list[dict]) -> MachineSpeed:
        """The prior scaled to the recorded runs' (calls, FLOPs, seconds): first one factor for both parts (the
        median of measured / prior), then, with three or more observations, the overhead and the speed fitted
        apart in relative error where the runs differ enough in their mix of the two; the setup by ``_setup_fit``."""
        observations = []
        for record in records:
            for calls, flops, seconds in ((record["train_calls"], record["train_flops"], record["train_s"]),
                                          (record["eval_calls"], record["eval_flops"], record["eval_s"])):
                if seconds and seconds > 0 and (calls or flops):
                    observations.append((calls, flops, seconds, 1.0))
        if not observations:
            return prior
        scale = statistics.median(seconds / prior.seconds(calls, flops) for calls, flops, seconds, _ in observations)
        overhead, per_flop = prior.overhead_s * scale, scale / prior.flops_per_s
        if len(observations) >= 3:  # enough to tell the overhead from the speed, when the runs' mixes differ
            both = _least_squares(observations)
            if both is not None:
                overhead, per_flop = both
        setup, per_param = _setup_fit(prior, [(r.get("params") or 0, r["setup_s"]) for r in records if r.get("setup_s") is not None])
        return cls(prior.device, overhead, 1 / per_flop, setup, f"{len(records)} earlier run{'s' * (len(records) != 1)} on this machine",
                   len(records), per_param)

    def seconds(self, calls: float, flops: float) -> float:
        return self.overhead_s * calls + flops / self.flops_per_s


def _setup_fit(prior: MachineSpeed, setups: list[tuple[int, float]]) -> tuple[float, float]:
    """(fixed seconds, seconds per weight) of the time before the first step: a line through the recorded runs
    where their sizes differ at least tenfold, else their median with the prior's share per weight."""
    if not setups:
        return prior.setup_s, prior.load_s_per_param
    sizes = [params for params, _ in setups if params > 0]
    if len(setups) >= 2 and sizes and max(sizes) >= 10 * max(min(sizes), 1):
        n = len(setups)
        mean_p = sum(p for p, _ in setups) / n
        mean_t = sum(t for _, t in setups) / n
        spread = sum((p - mean_p) ** 2 for p, _ in setups)
        slope = sum((p - mean_p) * (t - mean_t) for p, t in setups) / spread if spread else 0.0
        if slope >= 0:
            return max(mean_t - slope * mean_p, 0.0), slope
    fixed = statistics.median(t - prior.load_s_per_param * p for p, t in setups)
    return max(fixed, 0.0), prior.load_s_per_param


def _least_squares(observations: list[tuple[float, float, float, float]]) -> tuple[float, float] | None:
    """Positive (a, b) minimising the weighted relative error of a*calls + b*flops against seconds; None when the
    observations cannot tell a from b (their calls and FLOPs in one proportion) or the best fit is not positive."""
    saa = sab = sbb = sat = sbt = 0.0  # normal equations of sum w * ((a c + b f - t) / t)^2
    for calls, flops, seconds, weight in observations:
        c, f = calls / seconds, flops / seconds
        saa += weight * c * c
        sab += weight * c * f
        sbb += weight * f * f
        sat += weight * c
        sbt += weight * f
    det = saa * sbb - sab * sab
    if saa <= 0 or sbb <= 0 or det <= MIN_INDEPENDENCE * saa * sbb:
        return None
    a, b = (sat * sbb - sbt * sab) / det, (saa * sbt - sab * sat) / det
    return (a, b) if a > 0 and b > 0 else None


def time_estimate(work: RunWork, speed: MachineSpeed) -> dict:
    """Seconds per step, for training, for evaluation and in all, with what the speed is based on."""
    train_s = speed.seconds(work.train_calls, work.train_flops)
    eval_s = speed.seconds(work.eval_calls, work.eval_flops)
    setup_s = speed.setup_seconds(work.params)
    total = setup_s + train_s + eval_s
    return {
        "per_step_s": round(train_s / work.steps, 4) if work.steps else None,
        "train_s": round(train_s, 1),
        "eval_s": round(eval_s, 1),
        "setup_s": round(setup_s, 1),
        "total_s": round(total, 1),
        "steps": work.steps,
        "evaluations": work.evaluations,
        "tokens_per_step": round(work.tokens_per_step),
        "basis": speed.basis,
        "notes": list(work.notes),
        "work": work.to_dict(),
    }


def duration_words(seconds: float | None) -> str:
    """0.05 -> '50 ms', 12.3 -> '12 s', 185 -> '3 min 5 s', 7320 -> '2 h 2 min'."""
    if seconds is None:
        return "unknown"
    seconds = max(0.0, float(seconds))
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
