"""Exports with their parity report: merged weights, the adapter folder, GGUF (and an Ollama Modelfile).

Each function writes into ``folder`` (a staging folder the caller renames when all is written) and
returns what it wrote with the report. The report is made for causal language models; other kinds
(seq2seq, extractive QA) export without one, which the result says.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model_kinds import ModelKind
from .held_out import HeldOut, common_system_prompt, conversations, held_out_prompts
from .ollama import ollama_name
from .parity import (
    TOLERANCES,
    Answers,
    ParityCheck,
    ParityReport,
    end_token_check,
    greedy_answers,
    perplexity_check,
    same_answers_check,
)

Progress = Callable[[float, str], None]
PARITY_PROMPTS = 8
REPORT_FILE = "parity_report.json"


@dataclass
class ExportResult:
    """The export's folder, its files, the commands that use it, and the parity report (None: not a causal LM)."""

    path: Path
    files: list[str]
    commands: list[str] = field(default_factory=list)
    report: ParityReport | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Probe:
    """The held-out prompts as token ids, and the first prompt with its reference answer (for logits)."""

    held: HeldOut
    prompt_ids: list[list[int]]
    probe: list[int]
    pairs: list[tuple[Any, str]]


def _probe(loaded: Any) -> _Probe:
    from ..tasks.text_generation import prompt_ids

    tokenizer = loaded.tokenizer
    max_length = int((loaded.record.get("config") or {}).get("max_seq_length", 512))
    held = held_out_prompts(loaded.record, bool(getattr(tokenizer, "chat_template", None)), PARITY_PROMPTS)
    ids = [prompt_ids(tokenizer, prompt)[-max_length:] for prompt in held.prompts]
    answer = tokenizer(held.answers[0], add_special_tokens=False)["input_ids"] if held.answers[0] else []
    return _Probe(held, ids, (ids[0] + answer)[-max_length:], list(zip(held.prompts, held.answers)))


def _answers(model: Any, tokenizer: Any, probe: _Probe, eos_id: int | None) -> Answers:
    return greedy_answers(model, probe.prompt_ids, eos_id, tokenizer.pad_token_id, probe.probe)


def _progress(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _merged(loaded: Any, probe: _Probe | None, report: ParityReport | None, progress: Progress | None):
    """The merged model (the adapter folded in, in place) and its answers; the merge check added to ``report``."""
    tokenizer = loaded.tokenizer
    adapter_answers = None
    if probe is not None and loaded.has_adapter:
        _progress(progress, 0.05, "Answering the held-out prompts with the adapter on its base")
        adapter_answers = _answers(loaded.model, tokenizer, probe, tokenizer.eos_token_id)
    model = merge_adapter(loaded)
    merged_answers = None
    if probe is not None:
        _progress(progress, 0.2, "Answering with the merged model")
        merged_answers = _answers(model, tokenizer, probe, tokenizer.eos_token_id)
        if adapter_answers is not None:
            report.checks.append(same_answers_check("merged = adapter on base", adapter_answers, merged_answers,
                                                    "the merged model and the adapter on its base"))
    return model, merged_answers


def merge_adapter(loaded: Any) -> Any:
    """The adapter folded into its base (in place); a fully fine-tuned model as it is."""
    return loaded.model.merge_and_unload() if loaded.has_adapter else loaded.model


def _new_report(export: str, probe: _Probe | None) -> ParityReport | None:
    if probe is None:
        return None
    return ParityReport(export=export, prompts=len(probe.prompt_ids), notes=[f"Prompts: {probe.held.source}."])


def _is_causal(loaded: Any) -> bool:
    return loaded.kind == ModelKind.CAUSAL


def export_merged(loaded: Any, folder: Path, final: Path, progress: Progress | None = None) -> ExportResult:
    """Base + adapter merged, saved in safetensors with the tokenizer; checked by reloading it from disk."""
    import transformers

    probe = _probe(loaded) if _is_causal(loaded) else None
    report = _new_report("merged", probe)
    model, merged_answers = _merged(loaded, probe, report, progress)
    _progress(progress, 0.4, "Writing the merged weights")
    model.save_pretrained(folder, safe_serialization=True)
    loaded.tokenizer.save_pretrained(folder)
    if probe is not None:
        _progress(progress, 0.7, "Reading the saved model back and answering again")
        reread = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
        report.checks.append(same_answers_check("saved = merged", merged_answers,
                                                _answers(reread, loaded.tokenizer, probe, loaded.tokenizer.eos_token_id),
                                                "the saved folder and the merged model"))
    return ExportResult(final, _files(folder), [f"vllm serve {final}"], report,
                        [] if probe else ["No parity report: it is made for causal language models."])


def export_adapter(loaded: Any, source: Path, folder: Path, final: Path, progress: Progress | None = None) -> ExportResult:
    """The adapter folder as PEFT and vLLM's LoRA serving read it (adapter_config.json, adapter_model.safetensors,
    the tokenizer); checked by loading the copy on its base."""
    from ..exceptions import ConfigurationError

    if not loaded.has_adapter:
        raise ConfigurationError(f"'{loaded.record['name']}' was fully fine-tuned: it has no adapter to export.",
                                 "Export it as a merged model (its own weights) instead.")
    for path in sorted(source.iterdir()):
        if path.is_file() and path.name not in ("training_args.bin", "exports.json") and not path.name.startswith("."):
            shutil.copy2(path, folder / path.name)
    report = None
    probe = _probe(loaded) if _is_causal(loaded) else None
    if probe is not None:
        from peft import PeftModel

        report = _new_report("adapter", probe)
        _progress(progress, 0.3, "Answering with the registered adapter")
        tokenizer = loaded.tokenizer
        reference = _answers(loaded.model, tokenizer, probe, tokenizer.eos_token_id)
        _progress(progress, 0.6, "Loading the copied adapter on its base and answering again")
        copy = PeftModel.from_pretrained(_fresh_base(loaded), folder).eval()
        report.checks.append(same_answers_check("copied adapter = registered adapter", reference,
                                                _answers(copy, tokenizer, probe, tokenizer.eos_token_id),
                                                "the exported adapter on its base and the registered model"))
    base_id = loaded.record["base_model"]
    name = loaded.record["name"]
    commands = [f"vllm serve {base_id} --enable-lora --lora-modules {ollama_name(name)}={final}"]
    return ExportResult(final, _files(folder), commands, report)


def _fresh_base(loaded: Any) -> Any:
    import torch
    import transformers

    return transformers.AutoModelForCausalLM.from_pretrained(loaded.record["base_model"], dtype=torch.float32)


def export_gguf(loaded: Any, folder: Path, final: Path, type_name: str, ollama: bool,
                progress: Progress | None = None) -> ExportResult:
    """The merged model as one GGUF file of ``type_name`` (and a Modelfile when ``ollama``), read back by
    transformers' GGUF loader and compared with the merged model."""
    from ..exceptions import ConfigurationError
    from ..names import name_from
    from .gguf_arch import gguf_architecture
    from .gguf_vocab import gguf_vocab
    from .gguf_writer import write_gguf

    if not _is_causal(loaded):
        raise ConfigurationError(f"'{loaded.record['name']}' is a {loaded.kind.value} model; GGUF holds causal language models.",
                                 "Export it as a merged model instead.")
    config = loaded.model.get_base_model().config if loaded.has_adapter else loaded.model.config
    gguf_architecture(config)  # refuse before any work
    gguf_vocab(loaded.tokenizer, int(config.vocab_size))
    name = loaded.record["name"]
    tokenizer = loaded.tokenizer
    probe = _probe(loaded)
    report = _new_report(f"gguf {type_name}", probe)
    model, merged_answers = _merged(loaded, probe, report, progress)
    path = folder / f"{name_from(name)}-{type_name}.gguf"

    def writing(fraction: float, message: str) -> None:
        _progress(progress, 0.3 + 0.4 * fraction, message)

    written = write_gguf(model, tokenizer, path, type_name, name, writing)
    report.notes.extend(written.notes)
    _progress(progress, 0.75, "Reading the GGUF file back with transformers' GGUF loader and answering again")
    _gguf_checks(report, model, tokenizer, probe, merged_answers, path, type_name)
    commands = [f"llama-cli -m {final / path.name} -cnv"]
    if ollama:
        _write_modelfile(report, tokenizer, probe, folder, path.name, name)
        commands.insert(0, f"ollama create {ollama_name(name)} -f {final / 'Modelfile'}")
    return ExportResult(final, _files(folder), commands, report)


def _gguf_checks(report: ParityReport, merged: Any, tokenizer: Any, probe: _Probe, merged_answers: Answers,
                 path: Path, type_name: str) -> None:
    import torch
    import transformers
    from transformers.integrations.gguf import read_gguf_metadata

    from ..tasks.text_generation import answer_loss
    from .gguf_arch import rope_frequency_factors

    metadata, _ = read_gguf_metadata(str(path), ("tokenizer.chat_template",))
    file_eos = metadata.get("tokenizer.ggml.eos_token_id")
    load = {}
    if (factors := rope_frequency_factors(merged.config)) is not None:
        # transformers' GGUF loader reads no rope_freqs: it reads the weights under the model's own rope scaling,
        # and the file's factors are checked on their own
        load["config"] = merged.config
        report.checks.append(_rope_check(path, factors))
    reread = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32,
                                                               **load).eval()
    gguf_answers = _answers(reread, tokenizer, probe, file_eos)
    least_share, largest_rise = TOLERANCES[type_name]
    report.checks.append(same_answers_check("GGUF answers = merged", merged_answers, gguf_answers,
                                            f"the {type_name.upper()} file (read by transformers) and the merged model",
                                            least_share))
    max_length = len(probe.probe) + 1024
    with_answers = [pair for pair in probe.pairs if pair[1]]
    if with_answers:
        report.checks.append(perplexity_check("held-out perplexity", answer_loss(merged, tokenizer, with_answers, max_length),
                                              answer_loss(reread, tokenizer, with_answers, max_length), largest_rise))
    else:
        report.notes.append("No perplexity check: the prompts have no reference answers.")
    report.checks.append(end_token_check(merged_answers, gguf_answers, file_eos, tokenizer.eos_token_id, tokenizer.eos_token))
    report.checks.append(_template_check(metadata.get("tokenizer.chat_template"), tokenizer))
    report.checks.append(_tokens_check(path, tokenizer, probe))


def _rope_check(path: Path, factors: Any) -> ParityCheck:
    import gguf
    import numpy as np

    stored = next((t for t in gguf.GGUFReader(path).tensors if t.name == "rope_freqs.weight"), None)
    if stored is None or not np.allclose(np.asarray(stored.data), factors, rtol=1e-5):
        return ParityCheck("rope frequencies", False, "The file's rope_freqs do not hold the model's Llama 3 rotary scaling.")
    return ParityCheck("rope frequencies", True, f"The file's rope_freqs hold the model's Llama 3 rotary scaling "
                       f"({len(factors)} factors, {factors.min():.3g} to {factors.max():.3g}); transformers read the weights "
                       "with the model's own rope settings, since its GGUF loader does not read them.")


def _template_check(in_file: str | None, tokenizer: Any) -> ParityCheck:
    trained = getattr(tokenizer, "chat_template", None)
    if in_file == trained:
        said = "the training chat template" if trained else "no chat template, as in training"
        return ParityCheck("chat template", True, f"The file holds {said}.")
    missing = "no chat template" if in_file is None else "a different chat template"
    return ParityCheck("chat template", False, f"The file holds {missing}; runtimes would format prompts unlike training.")


def _rendered(tokenizer: Any, prompt: Any) -> str:
    if isinstance(prompt, list):
        return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    return prompt


def _tokens_check(path: Path, tokenizer: Any, probe: _Probe) -> ParityCheck:
    import transformers

    read = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    texts = [_rendered(tokenizer, prompt) for prompt in probe.held.prompts]
    same = sum(read(text, add_special_tokens=False)["input_ids"] == tokenizer(text, add_special_tokens=False)["input_ids"]
               for text in texts)
    detail = f"The file's tokenizer (read by transformers) gives the training token ids for {same} of {len(texts)} prompts."
    return ParityCheck("tokenizer", same == len(texts), detail, {"same": same, "prompts": len(texts)})


def _write_modelfile(report: ParityReport, tokenizer: Any, probe: _Probe, folder: Path, gguf_file: str, name: str) -> None:
    """Write the Modelfile and add its check to ``report``."""
    from .ollama import (
        modelfile_problem,
        modelfile_text,
        stop_tokens,
        template_differences,
        template_pieces,
    )

    pieces = template_pieces(tokenizer)
    system = common_system_prompt(probe.held.prompts)
    problem = modelfile_problem(pieces, system)
    if problem:
        pieces, system = None, None
    stops = stop_tokens(tokenizer, pieces)
    (folder / "Modelfile").write_text(modelfile_text(gguf_file, name, pieces, stops, system), encoding="utf-8")
    if pieces is None:
        why = problem or "the chat template does not fall into text around each message"
        report.checks.append(ParityCheck("Modelfile template", False, f"The Modelfile has no TEMPLATE ({why}); "
                                         "Ollama falls back on its reading of the GGUF's template, which may differ from training."))
    else:
        shapes = conversations(probe.held.prompts) + [
            [{"role": "user", "content": "Hello."}],
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi."},
             {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Again."}],
        ]
        differences = template_differences(tokenizer, pieces, shapes)
        detail = (f"The Modelfile's template renders {len(shapes)} conversations as the training chat template does; "
                  f"stop tokens: {', '.join(stops)}." if not differences else
                  f"The Modelfile's template differs from training for {len(differences)} of {len(shapes)} conversations: "
                  f"{differences[0]}.")
        report.checks.append(ParityCheck("Modelfile template", not differences, detail,
                                         {"conversations": len(shapes), "different": len(differences), "stops": stops}))


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.is_file())


def write_report(folder: Path, result: ExportResult) -> None:
    """The report as ``parity_report.json`` in the export folder."""
    if result.report is not None:
        from .parity import to_json_ready

        data = {**to_json_ready(result.report), "commands": result.commands}
        (folder / REPORT_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")
