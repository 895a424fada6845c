"""The demo models: small random-init models of three kinds, each saved with the demo tokenizer.

A Llama-shaped causal LM (text generation, SFT, DPO, RLHF), a T5-shaped encoder-decoder
(summarization) and a BERT-shaped encoder with a span head (extractive QA).
"""

from __future__ import annotations

from pathlib import Path

from .tokenizer import build_tokenizer

CAUSAL_LM_SHAPE = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4}


def build_causal_lm(folder: Path, seed: int = 0) -> Path:
    """A random-init Llama-shaped causal LM (about 0.6M parameters) with its tokenizer."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        num_key_value_heads=CAUSAL_LM_SHAPE["num_attention_heads"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        # Larger than the usual 0.02: with frozen random embeddings, LoRA can only reach confident
        # logits if the (tied) embeddings are not tiny. Measured: LoRA learns the demo task with it.
        initializer_range=0.1,
        **CAUSAL_LM_SHAPE,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(folder, safe_serialization=True)
    return folder




def build_seq2seq(folder: Path, seed: int = 0) -> Path:
    """A random-init T5-shaped encoder-decoder (about 1M parameters) for summarization."""
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(folder)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=128, d_kv=32, d_ff=256, num_layers=2, num_decoder_layers=2, num_heads=4,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, tie_word_embeddings=True, initializer_factor=1.0,
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def build_qa_encoder(folder: Path, seed: int = 0) -> Path:
    """A random-init BERT-shaped encoder with a span head (about 0.6M parameters) for extractive QA."""
    import torch
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertForQuestionAnswering
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    bos, end = tokenizer.bos_token_id, tokenizer.eos_token_id
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="<|bos|> $A <|end|>", pair="<|bos|> $A <|end|> $B:1 <|end|>:1",
        special_tokens=[("<|bos|>", bos), ("<|end|>", end)],
    )
    tokenizer.cls_token, tokenizer.sep_token = "<|bos|>", "<|end|>"
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    BertForQuestionAnswering(config).save_pretrained(folder, safe_serialization=True)
    return folder
