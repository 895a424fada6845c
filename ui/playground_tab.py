"""The Playground tab: chat with a fine-tuned model next to its base (the adapter disabled), streamed.

Summarization models get a document box; extractive QA models get context and question boxes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import gradio as gr

from modelforge_core.exceptions import ModelForgeException
from modelforge_core.services.playground_service import MAX_NEW_TOKENS_CAP, GenerationSettings

from .context import UIContext
from .errors import error_text


def model_choices(ctx: UIContext) -> list[tuple[str, str]]:
    return [(f"{m['name']} · {m['task']} · {m['strategy']}", m["id"]) for m in ctx.models.list_models()]


@dataclass
class PlaygroundSession:
    """One browser session's answer in progress: Stop sets its event (each answer gets a new one)."""

    stop: threading.Event | None = None

    def new_answer(self) -> threading.Event:
        self.stop = threading.Event()
        return self.stop

    def stop_answer(self) -> None:
        if self.stop is not None:
            self.stop.set()


class PlaygroundTab:
    """Components and handlers; ``model`` is public so the Models tab can open a model here."""

    def __init__(self, ctx: UIContext):
        self.ctx = ctx
        self.session = gr.State(PlaygroundSession())
        with gr.Row():
            self.model = gr.Dropdown(model_choices(ctx), label="Model", elem_id="mf-pg-model", scale=4,
                                     info="A registered model; it loads once and stays loaded until another is picked.")
            self.refresh = gr.Button("Refresh", size="sm", scale=1)
        self.status = gr.Markdown(elem_id="mf-pg-status")
        with gr.Accordion("Generation settings", open=False):
            self.system = gr.Textbox(label="System prompt", info="Sent before the chat, where the model's template has a system role.")
            with gr.Row():
                self.temperature = gr.Slider(0, 2, value=0.7, step=0.05, label="Temperature", info="0 = greedy (deterministic).")
                self.top_p = gr.Slider(0.05, 1, value=0.9, step=0.05, label="Top-p")
                self.top_k = gr.Slider(1, 200, value=50, step=1, label="Top-k")
                self.repetition = gr.Slider(1, 2, value=1.1, step=0.05, label="Repetition penalty")
                self.max_new = gr.Slider(1, MAX_NEW_TOKENS_CAP, value=256, step=1, label="Max new tokens")
        # Headings above the chats, not the Chatbot's own label: that one floats over the chat and
        # covered the first line of a long answer. Only the per-message copy button: the share and
        # copy-all icons also float in the chat's top corner, over the end of the first line.
        with gr.Row():
            with gr.Column():
                gr.Markdown("**Fine-tuned**", elem_id="mf-pg-tuned-heading")
                self.tuned = gr.Chatbot(label="Fine-tuned", show_label=False, buttons=["copy"], elem_id="mf-pg-tuned", height=320)
            with gr.Column():
                gr.Markdown("**Base model** (adapter disabled)", elem_id="mf-pg-base-heading")
                self.base = gr.Chatbot(label="Base model (adapter disabled)", show_label=False, buttons=["copy"],
                                       elem_id="mf-pg-base", height=320)
        # lines=1 with max_lines > 1: Gradio's Textbox then sends on Enter and adds a line on Shift+Enter
        # (with lines > 1 it is the other way round); the box grows with its text up to max_lines.
        self.message = gr.Textbox(label="Message", lines=1, max_lines=8, elem_id="mf-pg-message",
                                  placeholder="Ask something... (Enter sends, Shift+Enter adds a line)")
        with gr.Row(visible=False) as self.qa_row:
            self.context = gr.Textbox(label="Context", lines=4, elem_id="mf-pg-context")
            self.question = gr.Textbox(label="Question", elem_id="mf-pg-question")
        with gr.Row():
            self.send = gr.Button("Send", variant="primary", elem_id="mf-pg-send")
            self.stop = gr.Button("Stop", variant="stop", elem_id="mf-pg-stop")
            self.clear = gr.Button("Clear")
        self._wire()

    def refresh_choices(self) -> list[tuple[str, str]]:
        return model_choices(self.ctx)

    def load(self, model_id: str | None):
        """Loads the model (progress shown by Gradio), then adapts the inputs to its task."""
        if not model_id:
            return "Pick a model.", gr.update(), gr.update()
        try:
            loaded = self.ctx.playground.load(model_id)
        except ModelForgeException as exc:
            return error_text(exc), gr.update(), gr.update()
        record, qa = loaded.record, loaded.kind == "qa"
        label = "Document to summarize" if record["task"] == "summarization" else "Message"
        text = f"Loaded **{record['name']}** ({record['task']}, {record['strategy']}) on {loaded.device}."
        if not loaded.has_adapter:
            text += " Fully fine-tuned: no base model to compare with here."
        return text, gr.update(visible=not qa, label=label), gr.update(visible=qa)

    def respond(self, model_id, message, context, question, tuned, base, system, temperature, top_p, top_k, repetition,
                max_new, session: PlaygroundSession):
        """Streams the fine-tuned answer, then the base answer, into the two chats.

        The message box is emptied once, when the question is taken; later updates leave it alone, so
        that the next question can be typed while an answer streams.
        """
        tuned, base = list(tuned or []), list(base or [])
        keep = gr.update()
        if not model_id:
            raise gr.Error("Pick a model first.")
        stop = session.new_answer()
        settings = GenerationSettings(system, temperature, top_p, int(top_k), repetition, int(max_new))
        try:
            loaded = self.ctx.playground.load(model_id)
            if loaded.kind == "qa":
                prompt = f"Q: {question}\n\nContext: {context}"
                tuned += [{"role": "user", "content": prompt}, {"role": "assistant", "content": self.ctx.playground.answer_question(model_id, context, question)}]
                if loaded.has_adapter:
                    base += [{"role": "user", "content": prompt}, {"role": "assistant", "content": self.ctx.playground.answer_question(model_id, context, question, base=True)}]
                yield tuned, base, ""
                return
            history = [m for m in tuned if m["role"] in ("user", "assistant")] + [{"role": "user", "content": message}]
            tuned += [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
            yield tuned, base, ""
            for text in self.ctx.playground.stream_chat(model_id, history, settings, stop=stop):
                tuned[-1]["content"] = text
                yield tuned, base, keep
            if loaded.has_adapter and not stop.is_set():
                base_history = [m for m in base if m["role"] in ("user", "assistant")] + [{"role": "user", "content": message}]
                base += [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
                for text in self.ctx.playground.stream_chat(model_id, base_history, settings, base=True, stop=stop):
                    base[-1]["content"] = text
                    yield tuned, base, keep
        except ModelForgeException as exc:
            raise gr.Error(error_text(exc, mark=False)) from None

    @staticmethod
    def stop_generation(session: PlaygroundSession) -> None:
        session.stop_answer()

    def _wire(self) -> None:
        self.refresh.click(lambda: gr.update(choices=model_choices(self.ctx)), None, self.model, api_name="playground_models")
        self.model.change(self.load, self.model, [self.status, self.message, self.qa_row], api_name="load_model")
        inputs = [self.model, self.message, self.context, self.question, self.tuned, self.base, self.system,
                  self.temperature, self.top_p, self.top_k, self.repetition, self.max_new, self.session]
        self.send.click(self.respond, inputs, [self.tuned, self.base, self.message], api_name="chat")
        self.message.submit(self.respond, inputs, [self.tuned, self.base, self.message])
        self.question.submit(self.respond, inputs, [self.tuned, self.base, self.message])
        self.stop.click(self.stop_generation, self.session, None, api_name="stop_generation")
        self.clear.click(lambda: ([], []), None, [self.tuned, self.base])
