"""An Ollama ``Modelfile`` beside a GGUF file: ``FROM``, the chat template in Ollama's template language,
the stop tokens and the system prompt the model was trained with.

The template is read off the tokenizer's Jinja chat template: rendered once with marker texts, it falls
into pieces (what comes before and after each role's text, and the generation prompt) that Ollama's
``{{ range .Messages }}`` loop puts back together. ``template_differences`` renders real conversations
both ways, so a chat template the pieces cannot express (one that inserts a default system turn, say)
is reported, not shipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MARKS = {"system": "\x01S\x01", "user1": "\x01U1\x01", "assistant1": "\x01A1\x01", "user2": "\x01U2\x01",
          "assistant2": "\x01A2\x01"}


@dataclass(frozen=True)
class TemplatePieces:
    """A chat template as text around each message: ``generation`` opens the assistant's turn."""

    preamble: str
    system_prefix: str
    system_suffix: str
    user_prefix: str
    user_suffix: str
    assistant_suffix: str
    generation: str


def _render(tokenizer: Any, messages: list[dict], generation: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


def _between(text: str, marks: list[str]) -> list[str] | None:
    """``text`` cut at each mark in turn: the pieces before, between and after; None if a mark is missing."""
    pieces, rest = [], text
    for mark in marks:
        head, found, rest = rest.partition(mark)
        if not found:
            return None
        pieces.append(head)
    return [*pieces, rest]


def template_pieces(tokenizer: Any) -> TemplatePieces | None:
    """The pieces of the tokenizer's chat template, or None when its rendering does not fall into them."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    m = _MARKS
    conversation = [{"role": "system", "content": m["system"]}, {"role": "user", "content": m["user1"]},
                    {"role": "assistant", "content": m["assistant1"]}, {"role": "user", "content": m["user2"]},
                    {"role": "assistant", "content": m["assistant2"]}]
    try:
        full = _render(tokenizer, conversation, False)
        asked = _render(tokenizer, conversation[1:2], True)
        unasked = _render(tokenizer, conversation[1:2], False)
        without_system = _render(tokenizer, conversation[1:3], False)
    except Exception:  # a template that refuses these turns (e.g. one that demands alternation from the system)
        return None
    cut = _between(full, [m["system"], m["user1"], m["assistant1"], m["user2"], m["assistant2"]])
    if cut is None or not asked.startswith(unasked):
        return None
    before_system, system_to_user, user_to_assistant, assistant_to_user, _, assistant_suffix = cut
    generation = asked[len(unasked):]
    if not user_to_assistant.endswith(generation) or not assistant_to_user.startswith(assistant_suffix):
        return None
    user_suffix = user_to_assistant[: len(user_to_assistant) - len(generation)]
    user_prefix = assistant_to_user[len(assistant_suffix):]
    if not system_to_user.endswith(user_prefix):
        return None
    system_suffix = system_to_user[: len(system_to_user) - len(user_prefix)]
    preamble = ""
    head = without_system.partition(m["user1"])[0]
    if head.endswith(user_prefix) and before_system.startswith(head[: len(head) - len(user_prefix)]):
        preamble = head[: len(head) - len(user_prefix)]
    return TemplatePieces(preamble, before_system[len(preamble):], system_suffix, user_prefix, user_suffix,
                          assistant_suffix, generation)


def render_pieces(pieces: TemplatePieces, messages: list[dict]) -> str:
    """What Ollama renders from ``go_template(pieces)`` for ``messages`` (the generation prompt after each user turn)."""
    parts = [pieces.preamble]
    for message in messages:
        role, text = message["role"], message["content"]
        if role == "system":
            parts.append(pieces.system_prefix + text + pieces.system_suffix)
        elif role == "user":
            parts.append(pieces.user_prefix + text + pieces.user_suffix + pieces.generation)
        elif role == "assistant":
            parts.append(text + pieces.assistant_suffix)
    return "".join(parts)


def go_template(pieces: TemplatePieces) -> str:
    """The pieces in Ollama's template language (Go's text/template over ``.Messages``)."""
    return (
        f"{pieces.preamble}{{{{ range .Messages }}}}"
        f'{{{{ if eq .Role "system" }}}}{pieces.system_prefix}{{{{ .Content }}}}{pieces.system_suffix}'
        f'{{{{ else if eq .Role "user" }}}}{pieces.user_prefix}{{{{ .Content }}}}{pieces.user_suffix}{pieces.generation}'
        f'{{{{ else if eq .Role "assistant" }}}}{{{{ .Content }}}}{pieces.assistant_suffix}'
        f"{{{{ end }}}}{{{{ end }}}}"
    )


def template_differences(tokenizer: Any, pieces: TemplatePieces, conversations: list[list[dict]]) -> list[str]:
    """For each conversation (ending with a user turn) that the Modelfile's template renders differently
    from the training chat template: where they part, in words."""
    differences = []
    for messages in conversations:
        expected = _render(tokenizer, messages, True)
        got = render_pieces(pieces, messages)
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
            roles = "+".join(message["role"] for message in messages)
            differences.append(
                f"a {roles} conversation: from character {at} Ollama would render {got[at:at + 40]!r}, "
                f"training rendered {expected[at:at + 40]!r}"
            )
    return differences


def stop_tokens(tokenizer: Any, pieces: TemplatePieces | None) -> list[str]:
    """The EOS token, and every special token that closes an assistant turn in the template."""
    stops = [tokenizer.eos_token] if tokenizer.eos_token else []
    if pieces is not None:
        for token in tokenizer.all_special_tokens:
            if token and token in pieces.assistant_suffix and token not in stops:
                stops.append(token)
    return stops


def ollama_name(name: str) -> str:
    """A model name Ollama accepts: lower case letters, digits, '.', '_' and '-'."""
    kept = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name.lower()).strip("-.")
    return kept or "modelforge-model"


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def modelfile_text(gguf_file: str, name: str, pieces: TemplatePieces | None, stops: list[str], system: str | None) -> str:
    """The Modelfile; without pieces, Ollama is left to the chat template inside the GGUF file."""
    lines = [f"# Made by ModelForge for '{name}'. Create the Ollama model with: ollama create {ollama_name(name)} -f Modelfile",
             f"FROM ./{gguf_file}"]
    if pieces is not None:
        lines.append(f'TEMPLATE """{go_template(pieces)}"""')
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines.extend(f'PARAMETER stop "{_quoted(stop)}"' for stop in stops)
    return "\n".join(lines) + "\n"


def modelfile_problem(pieces: TemplatePieces | None, system: str | None) -> str | None:
    """Why the template or system prompt cannot be written between triple quotes, if it cannot."""
    texts = [*(vars(pieces).values() if pieces else []), system or ""]
    if any('"""' in text or "{{" in text for text in texts):
        return 'the chat template or system prompt holds """ or {{, which a Modelfile cannot quote'
    return None
