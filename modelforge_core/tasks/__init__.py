"""Task-specific data preparation, prediction and evaluation for the non-causal model kinds.

``summarization``: an encoder-decoder (document in, summary out). ``extractive_qa``: an encoder
with a span head (start/end positions). Causal LMs go through TRL's SFT formats instead.
"""
