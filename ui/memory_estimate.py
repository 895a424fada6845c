"""The memory and time estimates shown next to Start, as words."""

from __future__ import annotations

from modelforge_core.services.hardware_service import Verdict, duration_words

LABELS = {
    "weights": "weights",
    "adapter": "adapter",
    "gradients": "gradients",
    "optimizer": "optimizer",
    "activations": "activations",
    "logits": "logits",
    "reward_model": "reward model",
}
VERDICT_MARKS = {Verdict.FITS: "✅", Verdict.TIGHT: "⚠️", Verdict.WILL_NOT_FIT: "⛔"}


def verdict_text(value: str) -> str:
    """The verdict's words after its mark, e.g. '⛔ will not fit'."""
    verdict = Verdict(value)
    return f"{VERDICT_MARKS[verdict]} {verdict.words}"


def _size(gb: float) -> str:
    return f"{gb:.2f} GB" if gb >= 1 else f"{gb * 1024:.0f} MB"


def estimate_markdown(estimate: dict) -> str:
    """'Memory estimate: 1.06 GB of 23 GB: fits', the split, and the changes that would help."""
    where = "GPU memory" if estimate["device"] == "cuda" else "free RAM"
    parts = ", ".join(f"{LABELS.get(k, k)} {_size(v)}" for k, v in estimate["components_gb"].items() if v >= 0.0005)
    lines = [
        f"**Memory estimate: {_size(estimate['peak_gb'])} of {estimate['available_gb']} GB {where}: {verdict_text(estimate['verdict'])}**",
        f"<small>{parts}, plus {_size(estimate['framework_gb'])} for the framework.</small>",
    ]
    if estimate.get("gpu_fill"):
        lines.append(f"GPU fill (Advanced settings: Fill a large GPU): {estimate['gpu_fill']}.")
    helpful = [s for s in estimate["suggestions"] if s["verdict"] == "fits"][:3]
    if helpful:
        lines.append("To make it fit: " + "; ".join(f"{s['change']} ({_size(s['peak_gb'])})" for s in helpful) + ".")
    lines += [f"⚠️ {warning}" for warning in estimate.get("warnings", [])]
    return "\n\n".join(lines)


def time_markdown(estimate: dict) -> str:
    """'Time estimate: about 3 min 5 s', its parts, and what the machine's speed is based on."""
    lines = [
        f"**Time estimate: about {duration_words(estimate['total_s'])}**",
        f"<small>{duration_words(estimate['per_step_s'])} per step x {estimate['steps']} steps "
        f"({duration_words(estimate['train_s'])}), evaluation {duration_words(estimate['eval_s'])} "
        f"({estimate['evaluations']} times), loading and saving {duration_words(estimate['setup_s'])}; "
        f"speed from {estimate['basis']}.</small>",
    ]
    lines += [f"<small>{note}</small>" for note in estimate.get("notes", [])]
    return "\n\n".join(lines)
