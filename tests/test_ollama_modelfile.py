"""The Modelfile's template read off a chat template: pieces around each role, rendered back and compared."""

from __future__ import annotations

import pytest

from modelforge_core.export.ollama import (
    go_template,
    modelfile_problem,
    modelfile_text,
    ollama_name,
    stop_tokens,
    template_differences,
    template_pieces,
)

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Qwen2.5's habit: a default system turn when the conversation has none
CHATML_DEFAULT_SYSTEM = ("{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are helpful.<|im_end|>\n{% endif %}"
                         + CHATML)
CONVERSATIONS = [
    [{"role": "user", "content": "Hi."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hello."},
     {"role": "user", "content": "Again."}],
]


@pytest.fixture
def tokenizer():
    from modelforge_core.demo.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    return tokenizer


def test_chatml_falls_into_pieces_that_render_every_conversation_as_training(tokenizer):
    tokenizer.chat_template = CHATML
    pieces = template_pieces(tokenizer)
    assert (pieces.user_prefix, pieces.user_suffix, pieces.generation) == ("<|im_start|>user\n", "<|im_end|>\n", "<|im_start|>assistant\n")
    assert template_differences(tokenizer, pieces, CONVERSATIONS) == []
    assert '{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n<|im_start|>assistant\n' in go_template(pieces)
    assert stop_tokens(tokenizer, pieces) == ["<|end|>", "<|im_end|>"]


def test_a_default_system_turn_the_pieces_cannot_express_is_reported(tokenizer):
    tokenizer.chat_template = CHATML_DEFAULT_SYSTEM
    pieces = template_pieces(tokenizer)
    differences = template_differences(tokenizer, pieces, CONVERSATIONS)
    assert len(differences) == 1 and differences[0].startswith("a user conversation: from character 12"), differences
    assert "You are helpful." in differences[0]


def test_the_modelfile_names_the_file_the_stops_and_the_system_prompt(tokenizer):
    pieces = template_pieces(tokenizer)  # the demo template
    text = modelfile_text("m-q8_0.gguf", "My Model!", pieces, ["<|end|>"], "Answer in one word.")
    assert text.splitlines()[0].endswith("ollama create my-model -f Modelfile")
    assert "FROM ./m-q8_0.gguf\n" in text and 'SYSTEM """Answer in one word."""' in text and 'PARAMETER stop "<|end|>"' in text
    assert modelfile_problem(pieces, 'say """hi"""') and modelfile_problem(pieces, None) is None
    assert ollama_name("../Weird Name") == "weird-name"


def test_a_tokenizer_without_a_chat_template_leaves_the_template_to_the_gguf(tokenizer):
    tokenizer.chat_template = None
    assert template_pieces(tokenizer) is None
    assert "TEMPLATE" not in modelfile_text("m.gguf", "m", None, ["<|end|>"], None)
