"""``PlaygroundService``: chat with a registered model, streamed, next to its base model.

The model loads once and stays until another is picked. The base answer comes from the same
weights with the adapter disabled (no second copy in memory). A Stop event ends generation at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigurationError, HardwareError
from .model_loading import LoadedModel, load_registered_model, pick_device
from .model_service import ModelService
from .token_stream import TokenStream

MAX_NEW_TOKENS_CAP = 1024


@dataclass
class GenerationSettings:
    """Sampling settings; temperature 0 means greedy."""

    system_prompt: str = ""
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.1
    max_new_tokens: int = 256

    def generate_kwargs(self) -> dict:
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS_CAP:
            raise ConfigurationError(
                f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS_CAP}, got {self.max_new_tokens}.",
                "Ask for a shorter answer.",
            )
        sample = self.temperature > 0
        kwargs = {"max_new_tokens": self.max_new_tokens, "do_sample": sample, "repetition_penalty": self.repetition_penalty}
        if sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        return kwargs


class PlaygroundService:
    """One loaded model at a time; generations are serialised (the adapter switch is global)."""

    def __init__(self, models: ModelService, gpu_busy: Callable[[], bool] | None = None):
        self.models = models
        self.gpu_busy = gpu_busy or (lambda: False)
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()  # not an RLock: Gradio may resume a generator on another thread
        # Every generation runs on this one long-lived thread: a fresh thread per answer ran generate
        # at 0.8x the speed of the same call on the main thread on the CPU (each thread gets its own
        # OpenMP team, and the idle teams' spinning workers take cores from the busy one).
        self._generation_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playground-generate")

    def load(self, model_ref: str, prefer_cpu: bool = False) -> LoadedModel:
        """Load (or reuse) the model; loading another one frees the previous."""
        record = self.models.get_model(model_ref)
        with self._lock:
            if self._loaded is not None and self._loaded.record["id"] == record["id"]:
                return self._loaded
            device = pick_device(prefer_cpu)
            if device == "cuda" and self.gpu_busy():
                raise HardwareError(
                    "The GPU is busy with a training job.",
                    "Wait for it to finish, or load this model on the CPU (fine for small models).",
                )
            self._loaded = None
            self._loaded = load_registered_model(record, device)
            return self._loaded

    def stream_chat(
        self,
        model_ref: str,
        messages: list[dict],
        settings: GenerationSettings | None = None,
        *,
        base: bool = False,
        stop: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield the growing answer to the chat; ``base=True`` answers with the adapter disabled."""
        settings = settings or GenerationSettings()
        loaded = self.load(model_ref)
        if loaded.kind == "qa":
            raise ConfigurationError("This is an extractive QA model: ask with a context and a question.")
        inputs = self._inputs(loaded, messages, settings)
        yield from self._stream(loaded, inputs, settings, base=base, stop=stop)

    def generate(self, model_ref: str, prompt: str, max_new_tokens: int = 128) -> str:
        """The whole answer to one user prompt, greedy (for the API)."""
        settings = GenerationSettings(temperature=0.0, max_new_tokens=max_new_tokens)
        chunks = list(self.stream_chat(model_ref, [{"role": "user", "content": prompt}], settings))
        return chunks[-1] if chunks else ""

    def answer_question(self, model_ref: str, context: str, question: str, *, base: bool = False) -> str:
        """The span of ``context`` that answers ``question`` (extractive QA models)."""
        from ..tasks.extractive_qa import predict_answers

        loaded = self.load(model_ref)
        if loaded.kind != "qa":
            raise ConfigurationError("This model generates text: use the chat.")
        with self._lock, self._adapter_off(loaded, base):
            return predict_answers(loaded.model, loaded.tokenizer, [question], [context], 384)[0]

    # -- internals --------------------------------------------------------------------------

    def _adapter_off(self, loaded: LoadedModel, base: bool):
        if not base:
            return nullcontext()
        if not loaded.has_adapter:
            raise ConfigurationError(
                "This model was fully fine-tuned: its base is a separate model.", "Open the base model itself to compare."
            )
        return loaded.model.disable_adapter()

    def _inputs(self, loaded: LoadedModel, messages: list[dict], settings: GenerationSettings) -> dict:
        from ..data.formatting import SUMMARIZE_INSTRUCTION, build_prompt, render_plain

        tokenizer = loaded.tokenizer
        if loaded.kind == "seq2seq":
            return tokenizer(messages[-1]["content"], return_tensors="pt", truncation=True, max_length=1024)
        if loaded.record["task"] == "summarization":
            messages = [*messages[:-1], *_as_list(build_prompt(SUMMARIZE_INSTRUCTION, messages[-1]["content"], chat=True))]
        if settings.system_prompt:
            messages = [{"role": "system", "content": settings.system_prompt}, *messages]
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        return tokenizer(render_plain(messages), return_tensors="pt")

    def _stream(self, loaded: LoadedModel, inputs: dict, settings: GenerationSettings, *, base: bool,
                stop: threading.Event | None) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class _StopOnEvent(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs) -> bool:
                return stop is not None and stop.is_set()

        tokenizer = loaded.tokenizer
        stream = TokenStream(tokenizer, skip_prompt=loaded.kind == "causal")
        kwargs = {
            **{k: v.to(loaded.device) for k, v in inputs.items()},
            **settings.generate_kwargs(),
            "streamer": stream,
            "pad_token_id": tokenizer.pad_token_id,
            "stopping_criteria": StoppingCriteriaList([_StopOnEvent()]),
        }
        with self._lock, self._adapter_off(loaded, base):
            errors: list[BaseException] = []

            def run() -> None:
                try:
                    with torch.no_grad():
                        loaded.model.generate(**kwargs)
                except BaseException as exc:  # surfaced in the caller's thread below
                    errors.append(exc)
                finally:
                    stream.end()

            done = self._generation_thread.submit(run)
            yield from stream.texts()
            done.result()
        if errors:
            raise errors[0]


def _as_list(prompt: Any) -> list[dict]:
    return prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
