"""The dataset check on screen: a summary in Markdown, and in HTML the length histogram per split and the
first rows as the model reads them, trained tokens marked apart from the context and from what is cut."""

from __future__ import annotations

import html

from .errors import WARNING_MARK

CHECK_CSS = """
#mf-check-view .mf-row { white-space: pre-wrap; font-family: var(--font-mono); font-size: 0.85em; line-height: 1.5;
  border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 8px; margin: 4px 0 12px; }
#mf-check-view .mf-trained { background: rgba(34, 197, 94, 0.28); border-radius: 3px; }
#mf-check-view .mf-context { color: var(--body-text-color-subdued); }
#mf-check-view .mf-cut { color: #dc2626; text-decoration: line-through; }
#mf-check-view .mf-hist { display: grid; grid-template-columns: max-content 1fr max-content; gap: 2px 8px;
  align-items: center; font-size: 0.85em; margin-bottom: 12px; }
#mf-check-view .mf-hist-bar { height: 12px; background: #3b82f6; border-radius: 2px; min-width: 1px; }
#mf-check-view .mf-hist-bar.mf-over { background: #dc2626; }
"""


def check_markdown(report: dict) -> str:
    """The verdict, the shape and who trains it, problems, notes and warnings."""
    head = "**Ready.** " if report["ok"] else "**Cannot train on this yet.** "
    lines = [head + report["message"]]
    if report.get("shape"):
        lines.append(f"Shape **{report['shape']}**: {report['shape_words']}. {report['trained_by']}")
    lines += [f"- Problem: {problem}" for problem in report.get("problems", [])]
    lines += [f"- {note}" for note in report.get("notes", [])]
    lines += [f"- {WARNING_MARK} {warning}" for warning in report.get("warnings", [])]
    return "\n\n".join(lines[:2]) + ("\n\n" + "\n".join(lines[2:]) if lines[2:] else "")


def check_html(report: dict) -> str:
    """Each split's histogram against max_seq_length, then the example rows with their tokens marked."""
    parts = []
    for split, stats in report.get("splits", {}).items():
        parts.append(f"<h4>{html.escape(split.capitalize())}: token lengths (max_seq_length {stats['max_length']})</h4>")
        parts.append(_histogram(stats))
        parts.append(f"<p>{html.escape(stats['summary'])}.</p>")
    if report.get("examples"):
        parts.append("<h4>The first rows as the model reads them</h4><p><span class='mf-trained'>trained</span> · "
                     "<span class='mf-context'>context (not in the loss)</span> · <span class='mf-cut'>cut (past "
                     "max_seq_length)</span></p>")
    for example in report.get("examples", []):
        runs = "".join(f"<span class='mf-{run['kind']}'>{html.escape(run['text'])}</span>" for run in example["segments"])
        parts.append(f"<div>Row {example['row']} ({html.escape(example['title'])})</div><div class='mf-row'>{runs}</div>")
    return "".join(parts)


def _histogram(stats: dict) -> str:
    peak = max((b["rows"] for b in stats["histogram"]), default=0) or 1
    cells = []
    for b in stats["histogram"]:
        over = " mf-over" if b["truncated"] else ""
        width = 100 * b["rows"] / peak
        cells.append(f"<span>{html.escape(b['label'])}</span><div><div class='mf-hist-bar{over}' data-rows='{b['rows']}' "
                     f"style='width:{width:.1f}%'>"
                     f"</div></div><span>{b['rows']}</span>")
    return f"<div class='mf-hist'>{''.join(cells)}</div>"
