"""``results/<profile>/index.html``: one self-contained page (no network) with every task's leaderboard.

Per task: the sortable ranking with intervals and ties, the references, the controls, the heatmap and the
Pareto plot (embedded as data URIs); then the marginal means. Click a column header to sort.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f0f0f0;cursor:pointer;user-select:none}
td:nth-child(-n+3){text-align:left}
tr.best{background:#e6f4e6} tr.tied{background:#f5fbf5}
.alarm{color:#b00;font-weight:bold} img{max-width:48%;margin-right:1%;vertical-align:top}
.note{color:#555;font-size:13px}
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


def _cell(value, digits: int = 4) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, float):
        return f'<td data-v="{value}">{value:.{digits}f}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _image(path: Path) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def render(rows: list[dict], controls: dict, marginals: pd.DataFrame, plots_dir: Path, provenance: dict) -> str:
    profile = rows[0]["profile"] if rows else "?"
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>pairbench: {profile}</title>",
             f"<style>{_STYLE}</style></head><body>", f"<h1>pairbench leaderboard, profile <code>{profile}</code></h1>",
             "<p class=note>Validation chose each configuration; test was scored only for the chosen and the reference "
             "configuration. Test = mean over repeats (seeds) ± sd; 95% CI = bootstrap over test documents of that mean; "
             "<b>tied</b> = not distinguishable from the task's best by a paired bootstrap (95%). Click a header to sort.</p>"]
    if provenance:
        parts.append("<details><summary>Provenance</summary><pre>" + html.escape(
            "\n".join(f"{k}: {v}" for k, v in provenance.items())) + "</pre></details>")
    from bench.leaderboard import SUMMARY_HEADER, summary

    parts.append("<h2>Summary</h2><table class=sortable><thead><tr>" + "".join(
        f"<th>{html.escape(h)}</th>" for h in SUMMARY_HEADER) + "</tr></thead><tbody>" + "".join(
        "<tr>" + "".join(_cell(c) for c in cells) + "</tr>" for cells in summary(rows)) + "</tbody></table>")
    for task in sorted({r["task"] for r in rows}):
        task_rows = [r for r in rows if r["task"] == task]
        main = next((r["main_metric"] for r in task_rows if r.get("main_metric")), "main")
        parts.append(f"<h2 id='{html.escape(task)}'>{html.escape(task)} "
                     f"<small>({html.escape(task_rows[0].get('task_type', ''))}, main metric {main})</small></h2>")
        c = controls.get(task)
        if c:
            alarm = " <span class=alarm>LEAKAGE ALARM</span>" if c.get("leakage_alarm") else ""
            parts.append(f"<p>Controls: majority {c['majority']:.4f}, chance {c['chance_mean']:.4f} (95th pct "
                         f"{c['chance_p95']:.4f}), shuffled labels ({html.escape(c['shuffled_pairing'])}) "
                         f"{c['shuffled']:.4f}.{alarm}</p>")
        parts.append(f"<table class=sortable><thead><tr><th>backend</th><th>classifier</th><th>status</th>"
                     f"<th>test {main}</th><th>sd</th><th>CI low</th><th>CI high</th><th>tied</th><th>validation</th>"
                     f"<th>reference val</th><th>reference test</th><th>trials</th><th>pairing s</th><th>train s</th><th>params</th>"
                     f"</tr></thead><tbody>")
        for r in task_rows:
            ci = r.get("test_main_ci95") or [None, None]
            css = "best" if r.get("best_in_task") else "tied" if r.get("tied_with_best") else ""
            label = (r.get("backend_info") or {}).get("label") or r["backend"]
            parts.append(f"<tr class='{css}'>" + "".join([
                _cell(label), _cell(r["classifier"]), _cell(r.get("status")), _cell(r.get("test_main")),
                _cell(r.get("test_main_std")), _cell(ci[0], 3), _cell(ci[1], 3),
                _cell("best" if r.get("best_in_task") else "tied" if r.get("tied_with_best") else ""),
                _cell(r.get("validation_main")), _cell(r.get("reference_validation_main")),
                _cell(r.get("reference_test_main")), _cell(r.get("trials_complete")),
                _cell(r.get("wall_seconds"), 0), _cell(r.get("train_seconds"), 1), _cell(r.get("n_params"))]) + "</tr>")
        parts.append("</tbody></table>")
        parts.append(_image(plots_dir / f"{task}-heatmap.png") + _image(plots_dir / f"{task}-pareto.png"))
        histories = [(r, f"history/{r['profile']}__{task}__{r['backend']}__{r['classifier']}.html") for r in task_rows]
        histories = [(r, link) for r, link in histories if (plots_dir.parent / link).is_file()]
        if histories:  # local pages beside the report (plotly.js included there): no network either
            parts.append("<details><summary>Optuna optimisation history per pairing (pages in history/, written "
                         "beside this report by <code>bench all</code> / <code>bench report</code>; not committed)"
                         "</summary><p>" + " · ".join(
                f"<a href='{html.escape(link)}'>{html.escape(r['backend'])} x {html.escape(r['classifier'])}</a>"
                for r, link in histories) + "</p></details>")
    if not marginals.empty:
        parts.append("<h2>Does the representation or the classifier matter more?</h2><table class=sortable><thead>"
                     "<tr><th>factor</th><th>level</th><th>mean test main</th><th>mean gap to task best</th>"
                     "<th>pairings</th></tr></thead><tbody>")
        for m in marginals.itertuples():
            parts.append("<tr>" + "".join([_cell(m.factor), _cell(m.level), _cell(float(m.mean_test_main)),
                                           _cell(float(m.mean_gap_to_task_best)), _cell(int(m.pairings))]) + "</tr>")
        parts.append("</tbody></table>")
    parts.append(f"<script>{_SORT}</script></body></html>")
    return "\n".join(parts)
