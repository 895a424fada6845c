"""The parity report: does an export answer as the fine-tuned model did?

Run after every export of a causal language model, on held-out prompts from the model's own training
data (its evaluation split, re-made from the run's settings), all on the CPU in float32:

- merged vs adapter-on-base: the same greedy answers, and the largest logit difference;
- GGUF, read back by transformers' GGUF loader (it shares no code with our writer), vs the merged
  model: the same greedy answers for F16/BF16; for Q8_0/Q4_0 the share of answers that match and the
  change in perplexity on the held-out answers, each against a stated tolerance;
- the end token: the file's EOS id is the tokenizer's, and where the merged model stopped at it, the
  GGUF model stops too; the chat template and the tokenization of the prompts are those of training;
- the Ollama Modelfile (when written): its template renders the held-out conversations as training did.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_NEW_TOKENS = 48
# For each GGUF type: the least share of greedy answers that must match the merged model's, and the
# largest rise in held-out perplexity (as a fraction).
# Measured on the fine-tuned demo model: every type kept 8 of 8 answers, perplexity within +0.1%.
TOLERANCES = {"f16": (1.0, 0.01), "bf16": (1.0, 0.02), "q8_0": (0.9, 0.02), "q4_0": (0.5, 0.25)}


@dataclass
class ParityCheck:
    """One line of the report."""

    name: str
    passed: bool
    detail: str
    figures: dict = field(default_factory=dict)


@dataclass
class ParityReport:
    """What was compared and what was found; ``passed`` when every check holds."""

    export: str
    prompts: int
    checks: list[ParityCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def to_dict(self) -> dict:
        return {"export": self.export, "prompts": self.prompts, "passed": self.passed,
                "checks": [asdict(check) for check in self.checks], "notes": list(self.notes)}

    def summary(self) -> str:
        failed = [check.name for check in self.checks if not check.passed]
        if not failed:
            return f"Parity report: all {len(self.checks)} checks hold on {self.prompts} held-out prompts."
        return f"Parity report: {len(failed)} of {len(self.checks)} checks FAILED ({', '.join(failed)})."


@dataclass
class Answers:
    """Greedy answers of one model to the same prompt ids: new token ids, and whether each ended at EOS."""

    ids: list[list[int]]
    stopped: list[bool]
    probe_logits: Any = None  # logits of the first prompt + its reference answer, for the difference


def greedy_answers(model: Any, prompts: list[list[int]], eos_id: int | None, pad_id: int | None,
                   probe: list[int] | None = None) -> Answers:
    """Greedy answers (at most MAX_NEW_TOKENS) to token-id prompts; logits of ``probe`` when given."""
    import torch

    ids, stopped = [], []
    for prompt in prompts:
        with torch.no_grad():
            out = model.generate(
                input_ids=torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=eos_id, pad_token_id=pad_id,
            )
        new = out[0, len(prompt):].tolist()
        stopped.append(eos_id is not None and eos_id in new)
        ids.append(new[: new.index(eos_id) + 1] if eos_id in new else new)
    logits = None
    if probe:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([probe])).logits[0].float()
    return Answers(ids, stopped, logits)


def same_answers_check(name: str, reference: Answers, other: Answers, what: str, least_share: float = 1.0) -> ParityCheck:
    """The share of greedy answers that are token for token the same, and the largest logit difference."""
    same = sum(a == b for a, b in zip(reference.ids, other.ids))
    share = same / max(len(reference.ids), 1)
    figures = {"same_answers": same, "answers": len(reference.ids), "share": round(share, 4)}
    if reference.probe_logits is not None and other.probe_logits is not None:
        figures["max_logit_difference"] = round(float((reference.probe_logits - other.probe_logits).abs().max()), 6)
    differ = f"; the largest logit difference is {figures['max_logit_difference']:.4g}" if "max_logit_difference" in figures else ""
    wanted = "every answer" if least_share >= 1.0 else f"at least {least_share:.0%} of them"
    detail = f"{same} of {len(reference.ids)} greedy answers of {what} are the same ({wanted} must be){differ}."
    return ParityCheck(name, share >= least_share, detail, figures)


def perplexity_check(name: str, reference_loss: float | None, other_loss: float | None, largest_rise: float) -> ParityCheck:
    """Held-out perplexity of the export against the merged model's, within ``largest_rise``."""
    if reference_loss is None or other_loss is None:
        return ParityCheck(name, False, "No held-out answer to measure perplexity on.")
    before, after = math.exp(reference_loss), math.exp(other_loss)
    rise = after / before - 1
    detail = (f"Held-out perplexity {after:.4g} against the merged model's {before:.4g} ({rise:+.1%}; "
              f"at most {largest_rise:+.0%} allowed).")
    return ParityCheck(name, rise <= largest_rise, detail, {"perplexity": after, "merged_perplexity": before, "rise": rise})


def end_token_check(reference: Answers, other: Answers, file_eos: int | None, eos_id: int | None, eos_text: str) -> ParityCheck:
    """The file's EOS is the tokenizer's, and the export stops wherever the merged model stopped."""
    figures = {"file_eos_id": file_eos, "eos_id": eos_id, "merged_stopped": sum(reference.stopped),
               "export_stopped": sum(b for a, b in zip(reference.stopped, other.stopped) if a)}
    if file_eos != eos_id:
        said = "has no end token" if file_eos is None else f"ends answers at token {file_eos}"
        return ParityCheck("end token", False, f"The GGUF file {said}, but the model was trained to end them at "
                           f"{eos_text!r} (token {eos_id}): runtimes would not stop its answers.", figures)
    if figures["export_stopped"] < figures["merged_stopped"]:
        return ParityCheck("end token", False, f"The merged model ended {figures['merged_stopped']} answers at {eos_text!r}; "
                           f"the export ended only {figures['export_stopped']} of those.", figures)
    return ParityCheck("end token", True, f"The file's end token is {eos_text!r} (token {eos_id}); the export stops "
                       f"where the merged model stops ({figures['merged_stopped']} of {len(reference.stopped)} answers end there).",
                       figures)


def to_json_ready(report: ParityReport) -> dict:
    """The report with every figure a plain number (for JSON)."""
    data = report.to_dict()
    for check in data["checks"]:
        check["figures"] = {k: (float(v) if isinstance(v, float) else v) for k, v in check["figures"].items()}
    return data
