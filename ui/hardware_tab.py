"""The Hardware tab (basic): CPU, RAM, GPUs and the compute profile, from HardwareService."""

from __future__ import annotations

import gradio as gr

from .context import UIContext


def hardware_markdown(machine: dict) -> str:
    """The machine as readable Markdown."""
    cpu = machine["cpu"]
    lines = [
        f"**Compute profile: `{machine['compute_profile']}`**",
        "",
        f"- **CPU**: {cpu['model']} ({cpu['cores_physical']} cores, {cpu['cores_logical']} threads)",
        f"- **RAM**: {machine['ram_total_gb']} GB ({machine['ram_available_gb']} GB free)",
        f"- **Disk free** at the data folder: {machine['disk_free_gb']} GB",
        f"- **OS**: {machine['os']}, Python {machine['python']}",
    ]
    if machine["gpus"]:
        for gpu in machine["gpus"]:
            extra = ", ".join(
                f"{label} {gpu[key]}{unit}"
                for key, label, unit in (("compute_capability", "compute", ""), ("utilization_percent", "busy", "%"), ("temperature_c", "", "°C"))
                if key in gpu
            )
            lines.append(
                f"- **GPU {gpu['index']}**: {gpu['name']}, {gpu['memory_total_gb']} GB ({gpu['memory_free_gb']} GB free), driver {gpu['driver']}"
                + (f", {extra}" if extra else "")
            )
    else:
        lines.append("- **GPU**: none found: training runs on the CPU (small models; the demo model trains in about a minute).")
    if machine.get("apple_mps"):
        lines.append("- **Apple GPU (MPS)** available")
    defaults = ", ".join(f"{k} = {v}" for k, v in machine["profile_defaults"].items())
    lines += ["", f"Defaults for this profile: {defaults}.", "", "Packages: " + ", ".join(
        f"{name} {version or '(not installed)'}" for name, version in machine["packages"].items())]
    return "\n".join(lines)


def create_hardware_tab(ctx: UIContext) -> dict:
    """Builds the tab's components; returns them by name."""
    summary = gr.Markdown(hardware_markdown(ctx.machine), elem_id="mf-hardware")
    refresh = gr.Button("Refresh", size="sm")

    def detect() -> str:
        ctx.machine = ctx.hardware.detect()
        return hardware_markdown(ctx.machine)

    refresh.click(detect, outputs=summary, api_name="hardware")
    return {"summary": summary, "refresh": refresh}
