"""The demo tokenizer: byte-level BPE trained on the shipped samples, with a chat template that renders tools."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..data.demo_task import DIGIT_WORDS
from ..data.samples import SAMPLES_DIR

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
# Tools (when given) are listed in a system turn; an assistant's tool calls follow its text as <tool_call> JSON.
CHAT_TEMPLATE = (
    "{% if tools %}<|system|>\nTools:\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}<|end|>\n{% endif %}"
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}"
    "{% for call in message['tool_calls'] or [] %}<tool_call>{{ call['function'] | tojson }}</tool_call>{% endfor %}"
    "<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


# A fixed list, not every file in the folder: a new sample must not change the demo tokenizer, and with it
# every demo model and what the seeded learning tests measure on them.
CORPUS_SAMPLES = (
    "alpaca_sample.jsonl",
    "conversational_sample.jsonl",
    "demo_task.jsonl",
    "preference_sample.jsonl",
    "qa_demo_task.jsonl",
    "qa_sample.jsonl",
    "summarization_sample.jsonl",
)


def _corpus() -> list[str]:
    """Text to train the tokenizer on: the demo task's words and a fixed set of the shipped samples."""
    texts = [" ".join(DIGIT_WORDS)] * 20
    for name in CORPUS_SAMPLES:
        for line in (SAMPLES_DIR / name).read_text(encoding="utf-8").splitlines():
            texts.append(line)
    return texts


@lru_cache(maxsize=2)
def _trained_bpe(vocab_size: int) -> str:
    """The trained BPE tokenizer as JSON; trained once per process (about 5 s), shared by the demo models."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    # Digits one by one, as Llama 3 and Qwen do: numbers stay learnable digit by digit.
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_corpus(), trainer)
    return core.to_str()


def build_tokenizer(folder: Path | None = None, vocab_size: int = 2048):
    """A byte-level BPE tokenizer with a chat template; saved to ``folder`` when given."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer.from_str(_trained_bpe(vocab_size))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|bos|>",
        eos_token="<|end|>",
        pad_token="<|pad|>",
        additional_special_tokens=SPECIAL_TOKENS[3:],
        model_max_length=512,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    if folder is not None:
        tokenizer.save_pretrained(folder)
    return tokenizer


