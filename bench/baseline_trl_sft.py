"""The baseline: what a user writes by hand with TRL. ``python bench/baseline_trl_sft.py MODEL TRAIN OUT STEPS``."""

import json
import resource
import sys

from datasets import load_dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

model_path, train_path, out, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tokenizer = AutoTokenizer.from_pretrained(model_path)
model = AutoModelForCausalLM.from_pretrained(model_path)
args = SFTConfig(
    output_dir=out, max_steps=steps, per_device_train_batch_size=4, learning_rate=1e-3, max_length=512,
    logging_steps=10, save_strategy="no", report_to="none", seed=42, include_num_input_tokens_seen="non_padding",
    disable_tqdm=True, bf16=False,  # TRL defaults to bf16, which stops on a CPU
)
trainer = SFTTrainer(
    model=model, args=args, train_dataset=load_dataset("json", data_files=train_path, split="train"),
    processing_class=tokenizer, peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"),
)
result = trainer.train()
trainer.save_model(out)
peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
print(json.dumps({"tokens": trainer.state.num_input_tokens_seen, "runtime_s": result.metrics["train_runtime"], "adapter": out,
                  "peak_rss_mb": peak_rss_mb}))
