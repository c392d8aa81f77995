"""Per-task PNG plots: a backend x classifier heatmap of the main metric (pairings not shown to learn greyed and
hatched, the validation-chosen best framed),
and main metric vs training time."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.lines
import matplotlib.patches
import matplotlib.ticker

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.files import atomic_write  # noqa: E402
from bench.tuning.result import ResultRow  # noqa: E402


def write_plots(rows: list[ResultRow], out_dir: Path, backends, classifiers) -> dict[str, Path]:
    paths = {}
    for task in sorted({r.task for r in rows}):
        ok = [r for r in rows if r.task == task and r.ok]
        if not ok:
            continue
        for kind, draw in (("heatmap", _heatmap), ("pareto", _pareto)):
            path = out_dir / f"{task}-{kind}.png"
            atomic_write(path, png_bytes(draw(task, ok, backends, classifiers)))
            paths[f"{task}-{kind}"] = path
    return paths


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (110 dpi, tight), and the figure closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _heatmap(task: str, rows: list[ResultRow], backends, classifiers):
    used_b = [b for b in backends if any(r.backend == b for r in rows)]
    grid = np.full((len(used_b), len(classifiers)), np.nan)
    not_shown = np.zeros(grid.shape, dtype=bool)
    best_at = None
    for r in rows:
        if r.backend in used_b and r.classifier in classifiers:
            at = used_b.index(r.backend), list(classifiers).index(r.classifier)
            grid[at], not_shown[at] = r.test_main, bool(r.not_shown_to_learn)
            if r.best_in_task:
                best_at = at
    fig, ax = plt.subplots(figsize=(1.6 * len(classifiers) + 2, 0.6 * len(used_b) + 1.6))
    image = ax.imshow(
        np.ma.masked_invalid(grid), cmap="viridis", vmin=np.nanmin(grid), vmax=np.nanmax(grid), aspect="auto"
    )
    for i in range(len(used_b)):
        for j in range(len(classifiers)):
            text = "n/a" if np.isnan(grid[i, j]) else f"{grid[i, j]:.3f}"
            if not_shown[i, j]:  # greyed, hatched and labelled: its score cannot be told from the controls'
                ax.add_patch(
                    matplotlib.patches.Rectangle(
                        (j - 0.5, i - 0.5), 1, 1, facecolor="lightgrey", hatch="///", edgecolor="grey", linewidth=0
                    )
                )
                ax.text(
                    j,
                    i,
                    f"{text}\nnot shown\nto learn",
                    ha="center",
                    va="center",
                    fontsize=8,
                    bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5},
                )
                continue
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if not np.isnan(grid[i, j]) and grid[i, j] < np.nanmean(grid) else "black",
                fontsize=9,
            )
    if best_at is not None:  # the validation-chosen best, framed
        ax.add_patch(
            matplotlib.patches.Rectangle(
                (best_at[1] - 0.48, best_at[0] - 0.48), 0.96, 0.96, fill=False, edgecolor="red", linewidth=2.5
            )
        )
    ax.set_xticks(range(len(classifiers)), classifiers, rotation=20)
    ax.set_yticks(range(len(used_b)), used_b)
    ax.set_title(f"{task}: test {rows[0].main_metric} (red frame: best by validation)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return fig


def _pareto(task: str, rows: list[ResultRow], backends, classifiers):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    times = np.array([max(r.train_seconds or 0.0, 1e-3) + (r.embed_seconds or 0.0) for r in rows])
    scores = np.array([r.test_main for r in rows])
    order = np.argsort(times)
    front, best = [], -np.inf
    for i in order:  # cheapest-first: a point is on the front if it beats everything cheaper
        if scores[i] > best:
            front.append(i)
            best = scores[i]
    markers = dict(zip(classifiers, "osD^vP*X"))
    colour = {b: plt.cm.tab10(k % 10) for k, b in enumerate(backends)}
    for i, r in enumerate(rows):
        ax.scatter(times[i], scores[i], marker=markers.get(r.classifier, "o"), s=50, color=colour.get(r.backend, "k"))
    ax.plot(times[front], scores[front], "k--", lw=1, label="Pareto front")
    used_b = [b for b in backends if any(r.backend == b for r in rows)]
    used_c = [c for c in classifiers if any(r.classifier == c for r in rows)]
    handles = [matplotlib.lines.Line2D([], [], color=colour[b], marker="o", ls="", label=b) for b in used_b]
    handles += [matplotlib.lines.Line2D([], [], color="grey", marker=markers[c], ls="", label=c) for c in used_c]
    handles.append(matplotlib.lines.Line2D([], [], color="k", ls="--", lw=1, label="Pareto front"))
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("embedding + training seconds (log)")
    ax.set_ylabel(f"test {rows[0].main_metric}")
    ax.set_title(f"{task}: score vs training cost")
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    fig.canvas.draw()  # the axes' final limits and scale, which label boxes are measured in
    # Every point is told by its colour (backend) and marker (classifier); the front's points are named too,
    # each label where it overlaps no other (``place_labels``).
    place_labels(fig, ax, [(times[i], scores[i], f"{rows[i].backend}+{rows[i].classifier}") for i in front])
    return fig


OFFSETS = ((4, 4), (4, -10), (-4, 4), (-4, -10), (4, 12), (-4, 12), (4, -18), (-4, -18))  # points, tried in order


def place_labels(fig, ax, points: list[tuple[float, float, str]]) -> None:
    """Annotate each (x, y, text) at the first offset where its box overlaps no label placed before and stays
    inside the axes; a label with no such place is left out (its point is still told by colour and marker)."""
    renderer = fig.canvas.get_renderer()
    placed: list = []
    frame = ax.get_window_extent(renderer)
    for x, y, text in points:
        for dx, dy in OFFSETS:
            label = ax.annotate(
                text, (x, y), fontsize=7, xytext=(dx, dy), textcoords="offset points", ha="left" if dx > 0 else "right"
            )
            box = label.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            label.remove()


def overlapping_labels(fig) -> list[tuple[str, str]]:
    """Pairs of text labels drawn inside a figure's axes whose boxes overlap (tick labels and titles aside)."""
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for k, (a, ba) in enumerate(boxes) for b, bb in boxes[k + 1 :] if ba.overlaps(bb)]


def write_budget_plots(budget: dict[str, dict], out_dir: Path) -> dict[str, Path]:
    """``<task>-budget.png``, a line per pairing: the expected best validation score against completed trials
    (Dodge et al. 2019); under a training budget (curves with ``training``), the best validation score so far
    against the training spent so far."""
    paths = {}
    for task in sorted({c["task"] for c in budget.values()}):
        curves = sorted(
            (c for c in budget.values() if c["task"] == task and c["expected_best"]),
            key=lambda c: -c["expected_best"][-1],
        )
        if not curves:
            continue
        fig, ax = plt.subplots(figsize=(8, 5))
        styles = ["-", "--", ":", "-."]
        by_training = any(c.get("training") for c in curves)  # a training budget: best so far against training
        if by_training:  # the networks; logistic regression's fixed trials spend no training budget
            curves = [c for c in curves if c.get("training")]
        for k, c in enumerate(curves):
            if by_training:
                x, y = c["training"], [np.nan if v is None else v for v in c["best_so_far"]]
            else:
                x, y = np.arange(1, len(c["expected_best"]) + 1), c["expected_best"]
            style = styles[(k // 10) % 4] if not by_training else "-"
            ax.plot(
                x,
                y,
                style,
                marker=".",
                lw=1.2,
                color=plt.cm.tab10(k % 10),
                label=f"{c['backend']} + {c['classifier']}",
                drawstyle="steps-post" if by_training else "default",
            )
        metric = curves[0].get("main_metric") or "score"
        if by_training:
            ax.set_xlabel("training spent (epochs of the training split, pruned trials included)")
            ax.set_ylabel(f"best validation {metric} so far")
            ax.set_title(f"{task}: best validation score after this much training (networks)")
        else:
            ax.set_xlabel("completed trials n")
            ax.set_ylabel(f"expected best validation {metric}")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.set_title(f"{task}: expected best validation score after n trials (Dodge et al. 2019)")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
        path = out_dir / f"{task}-budget.png"
        atomic_write(path, png_bytes(fig))
        paths[f"{task}-budget"] = path
    return paths
