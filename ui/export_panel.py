"""The Models tab's export: pick the format (merged, adapter, GGUF) and GGUF's type, export with progress,
and read the parity report as a table (also shown for the model's latest export when it is picked)."""

from __future__ import annotations

import gradio as gr

from modelforge_core.services.export_service import EXPORT_FORMATS, GGUF_TYPES

FORMAT_LABELS = {"merged": "Merged model (safetensors)", "adapter": "Adapter folder (PEFT, vLLM LoRA)",
                 "gguf": "GGUF (llama.cpp, Ollama, LM Studio)"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def report_markdown(report: dict | None, commands: list[str] | None = None) -> str:
    """A parity report (as JSON) as a Markdown table, with the commands that use the export."""
    if not report:
        return "No parity report: it is made for causal language models."
    failed = [check for check in report["checks"] if not check["passed"]]
    head = (f"**Parity report ({_cell(report['export'])})**: all {len(report['checks'])} checks hold on "
            f"{report['prompts']} prompts." if not failed else
            f"**Parity report ({_cell(report['export'])})**: {len(failed)} of {len(report['checks'])} checks FAILED.")
    lines = [head, "", "| check | result | what was found |", "|---|---|---|"]
    lines += [f"| {_cell(c['name'])} | {'ok' if c['passed'] else '**FAILED**'} | {_cell(c['detail'])} |" for c in report["checks"]]
    lines += ["", *[f"- {_cell(note)}" for note in report.get("notes", [])]]
    if commands:
        lines += ["", "Use it:", "", "```", *commands, "```"]
    return "\n".join(lines)


class ExportPanel:
    """The export controls; ``run`` and ``latest`` are the handlers the tab wires."""

    def __init__(self, ctx):
        self.ctx = ctx
        with gr.Row():
            self.format = gr.Radio([(FORMAT_LABELS[f], f) for f in EXPORT_FORMATS], value="merged", label="Export as",
                                   elem_id="mf-models-export-format", scale=3)
            self.gguf_type = gr.Dropdown(list(GGUF_TYPES), value="q8_0", label="GGUF type", visible=False,
                                         elem_id="mf-models-export-type", scale=1)
            self.ollama = gr.Checkbox(True, label="Ollama Modelfile", visible=False, elem_id="mf-models-export-ollama", scale=1)
        with gr.Row():
            self.folder = gr.Textbox(label="Export to folder (new or empty; left empty: the data folder's exports/)",
                                     elem_id="mf-models-export-dir", scale=3)
            self.button = gr.Button("Export", elem_id="mf-models-export", scale=1)
        self.report = gr.Markdown(elem_id="mf-models-parity")
        self.format.change(self.gguf_only, self.format, [self.gguf_type, self.ollama], api_visibility="private")

    @staticmethod
    def gguf_only(fmt: str):
        return gr.update(visible=fmt == "gguf"), gr.update(visible=fmt == "gguf")

    def message(self, name: str, fmt: str, gguf_type: str, result) -> str:
        """What the result area says of a finished export."""
        where = f"`{result.path}`"
        said = {"merged": f"Merged model saved to {where}: {name} with its adapter folded into the base.",
                "adapter": f"Adapter of {name} saved to {where}.",
                "gguf": f"GGUF file ({gguf_type.upper()}) of {name} saved to {where}."}[fmt]
        if result.report is not None:
            said += " " + result.report.summary().replace("Parity report:", "Parity:")
        return said

    def latest(self, model_id: str | None) -> str:
        """The parity report of the model's newest export, if it has one."""
        if not model_id:
            return ""
        try:
            exports = self.ctx.exports.exports_of(model_id)
        except Exception:  # a model whose files are gone: the details say so
            return ""
        if not exports:
            return ""
        newest = exports[-1]
        return f"Latest export: `{newest['path']}`\n\n" + report_markdown(newest.get("report"), newest.get("commands"))
