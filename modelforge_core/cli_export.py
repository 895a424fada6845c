"""CLI command ``models export``: a registered model as merged weights, its adapter, or GGUF (with an
Ollama Modelfile), each followed by its parity report."""

from __future__ import annotations

import argparse
import sys

from .cli_output import print_json

EXPORT_HELP = (
    "Export a registered model: merged safetensors, the adapter folder (PEFT / vLLM LoRA), or one GGUF file "
    "(llama.cpp, Ollama, LM Studio). A parity report checks the export answers as the fine-tuned model did."
)


def add_export_parser(models_sub) -> None:
    """Adds ``models export`` to the ``models`` subcommands."""
    from .export.formats import EXPORT_FORMATS, GGUF_TYPES

    export = models_sub.add_parser("export", help=EXPORT_HELP, description=EXPORT_HELP)
    export.add_argument("model", help="Model id or name (see `models list`).")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="merged")
    export.add_argument("--type", choices=GGUF_TYPES, default="q8_0", help="GGUF only: the weights' type (default q8_0).")
    export.add_argument("--ollama", action="store_true", help="GGUF only: write an Ollama Modelfile beside the file.")
    export.add_argument("--to", default=None, help="A new or empty folder (default: MODELFORGE_HOME/exports/<name>-<format>).")
    export.add_argument("--json", action="store_true", help="Print one JSON object.")


def cmd_export(args: argparse.Namespace) -> int:
    """Export, print the files, the commands and the report; exit 0 when every check holds, 1 when one fails."""
    from .dependencies import get_export_service

    shown = [-1.0]

    def progress(fraction: float, message: str) -> None:
        # the writer reports every tensor: a line per tenth of the way is enough on a terminal
        if not args.json and (not message.startswith("Wrote") or fraction - shown[0] >= 0.1):
            shown[0] = fraction
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    service = get_export_service()
    result = service.export(args.model, args.to, args.format, args.type, args.ollama, progress)
    report = result.report
    if args.json:
        print_json(service.result_dict(result))
    else:
        print(f"Exported to {result.path}: {', '.join(result.files)}")
        for command in result.commands:
            print(f"  {command}")
        for note in result.notes:
            print(note)
        if report is not None:
            print(report.summary())
            for check in report.checks:
                print(f"  [{'ok' if check.passed else 'FAILED'}] {check.name}: {check.detail}")
            for note in report.notes:
                print(f"  {note}")
    return 0 if report is None or report.passed else 1
