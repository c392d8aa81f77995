"""``results/<profile>/index.html``: one self-contained page (no network) with every task's leaderboard.

The same tables as ``leaderboard.md`` (one table model, from ``bench.reports.tables``): the summary; per task the
sortable ranking with intervals and ties, the pairings not shown to learn, the controls, the heatmap and the
Pareto plot (embedded as data URIs); then the marginal means. Click a column header to sort.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.reports.tables import (
    MARGINALS_INTRO,
    MARGINALS_TITLE,
    Table,
    controls_line,
    intro,
    marginals_table,
    ranking_tables,
    summary_table,
    task_facts,
)
from bench.tuning.result import ResultRow

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f0f0f0;cursor:pointer;user-select:none}
td{text-align:left} td:nth-child(n+4){text-align:right}
tr.best{background:#e6f4e6} tr.tied{background:#f5fbf5} tr.better{background:#fff4d6}
.alarm{color:#b00;font-weight:bold} img{max-width:48%;margin-right:1%;vertical-align:top}
.note{color:#555;font-size:13px}
.heatmaps img{max-width:32%}
"""

_SORT = """
document.querySelectorAll('table.sortable th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const rows = Array.from(body.rows);
  const asc = th.dataset.asc !== 'true'; th.dataset.asc = asc;
  const key = r => { const t = r.cells[col].dataset.v ?? r.cells[col].textContent; const n = parseFloat(t);
                     return isNaN(n) ? t : n; };
  rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (asc ? 1 : -1));
  rows.forEach(r => body.appendChild(r));
}));
"""


def table_html(table: Table) -> str:
    """A sortable table; pairing rows carry their standing against the best as their class."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    kinds = table.kinds if table.kinds is not None else [None] * len(table.rows)
    body = "".join(
        (f"<tr class='{kind}'>" if kind is not None else "<tr>")
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
        + "</tr>"
        for kind, cells in zip(kinds, table.rows)
    )
    note = f"<p class=note>{html.escape(table.note)}</p>" if table.note else ""
    return f"<table class=sortable><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def image_html(path: Path) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def page(title: str, parts: list[str]) -> str:
    """A self-contained page (style and table sorting inline, no network) around ``parts`` of HTML."""
    return "\n".join(
        [
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            *parts,
            f"<script>{_SORT}</script></body></html>",
        ]
    )


def render(
    rows: list[ResultRow],
    controls: dict,
    marginals: pd.DataFrame,
    plots_dir: Path,
    provenance: dict,
    sections: Sequence[tuple[str, str, Table]] = (),
    answers: Table | None = None,
) -> str:
    """The page: the same tables as leaderboard.md (``bench.reports.tables``' table model) plus the plots. It
    answers first: the findings' ``answers`` table and every task's heatmap (best framed, rows not shown to
    learn greyed), then the details."""
    profile = rows[0].profile if rows else "?"
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>pairbench: {profile}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>pairbench leaderboard, profile <code>{profile}</code></h1>",
    ]
    tasks = sorted({r.task for r in rows})
    if answers is not None:
        parts.append(
            "<h2 id=findings>Findings: does any representation beat TF-IDF + logreg?</h2>" + table_html(answers)
        )
    heatmaps = "".join(image_html(plots_dir / f"{task}-heatmap.png") for task in tasks)
    if heatmaps:
        parts.append(f"<div class=heatmaps>{heatmaps}</div>")
    if (plots_dir.parent.parent / "curves" / "index.html").is_file():
        link = "<a href='../curves/index.html'>the learning curves</a>"
        parts.append(f"<p>Which representation at which data size: {link}.</p>")
    parts.append(
        "<h2>How to read the tables</h2><ul class=note>"
        + "".join(f"<li>{html.escape(s)}</li>" for s in intro(rows))
        + "<li>Click a column header to sort.</li></ul>"
    )
    if provenance:
        parts.append(
            "<details><summary>Provenance</summary><pre>"
            + html.escape("\n".join(f"{k}: {v}" for k, v in provenance.items()))
            + "</pre></details>"
        )
    parts.append("<h2>Summary</h2>" + table_html(summary_table(rows, controls)))
    for task in tasks:
        task_rows = [r for r in rows if r.task == task]
        title, facts = task_facts(task_rows)
        parts.append(f"<h2 id='{html.escape(task)}'>{html.escape(title)}</h2><p class=note>{html.escape(facts)}</p>")
        text, alarm = controls_line(controls.get(task))
        if text:
            alarm = f" <span class=alarm>{html.escape(alarm)}</span>" if alarm else ""
            parts.append(f"<p>{html.escape(text)}{alarm}</p>")
        ranking, not_shown = ranking_tables(task_rows, controls.get(task))
        parts.append(table_html(ranking))
        if not_shown:
            parts.append(f"<h3>{html.escape(task)}: not shown to learn</h3>" + table_html(not_shown))
        parts.append(image_html(plots_dir / f"{task}-pareto.png") + image_html(plots_dir / f"{task}-budget.png"))
        histories = [(r, f"history/{r.profile}__{task}__{r.backend}__{r.classifier}.html") for r in task_rows]
        histories = [(r, link) for r, link in histories if (plots_dir.parent / link).is_file()]
        if histories:  # local pages beside the report (plotly.js included there): no network either
            parts.append(
                "<details><summary>Optuna optimisation history per pairing (pages in history/, written "
                "beside this report by <code>bench all</code> / <code>bench report</code>; not committed)"
                "</summary><p>"
                + " · ".join(
                    f"<a href='{html.escape(link)}'>{html.escape(r.backend)} x {html.escape(r.classifier)}</a>"
                    for r, link in histories
                )
                + "</p></details>"
            )
    if not marginals.empty:
        parts.append(
            f"<h2>{html.escape(MARGINALS_TITLE)}</h2><p class=note>{html.escape(MARGINALS_INTRO)}</p>"
            + table_html(marginals_table(marginals))
        )
    for title, intro_text, table in sections:
        parts.append(
            f"<h2>{html.escape(title)}</h2>"
            + (f"<p class=note>{html.escape(intro_text)}</p>" if intro_text else "")
            + table_html(table)
        )
    parts.append(f"<script>{_SORT}</script></body></html>")
    return "\n".join(parts)
