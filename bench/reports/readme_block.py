"""The README's generated blocks: the "current answer", a short per-task table from a committed ``leaderboard.json``
(or ``findings.json``), and the learning curves' per-task crossover and sizes from the committed ``results/curves/``.

``findings_markdown(results_dir)`` and ``curves_markdown(curves_dir)`` render them; ``python -m
bench.reports.readme_block`` prints them, ``--write README.md`` replaces the blocks between ``START`` and ``END``
and between ``CURVES_START`` and ``CURVES_END`` (when the file has those) in a file, and ``--check README.md``
exits 1 when a block differs from what the committed files give (the README test runs the same comparison).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.errors import BenchError
from bench.reports.rows import validation_order
from bench.tuning.pairings import baseline_pairing
from bench.tuning.result import ResultRow

START, END = "<!-- findings:start -->", "<!-- findings:end -->"
CURVES_START, CURVES_END = "<!-- curves:start -->", "<!-- curves:end -->"
DEFAULT_RESULTS = Path(__file__).resolve().parents[2] / "results" / "standard"
DEFAULT_CURVES = Path(__file__).resolve().parents[2] / "results" / "curves"
METRIC_NAMES = {"f1": "F1", "macro_f1": "macro-F1", "micro_f1": "micro-F1"}


def _score(r: dict) -> str:
    low, high = r.get("test_main_ci95") or (None, None)
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None else ""
    return f"{r['test_main']:.3f}{interval}"


def _verdict(r: dict) -> str:
    """The baseline's standing against the validation-chosen best, as the leaderboard's paired test gave it."""
    word = r.get("vs_best") or ("best" if r.get("best_in_task") else "tied" if r.get("tied_with_best") else "")
    if word == "best":
        return "it is the best"
    p = r.get("p_vs_best_holm")
    return f"{word} (Holm p {p:.3f})" if word and p is not None else word or "not compared"


def _validation_order(r: dict) -> tuple:
    return validation_order(ResultRow.from_json(r))


def findings_rows(rows: list[dict]) -> list[tuple[str, str, str, str]]:
    """Per task: (task and metric, best pairing with its test score, TF-IDF + logreg's score, its verdict)."""
    out = []
    for task in sorted({r["task"] for r in rows}):
        ok = [r for r in rows if r["task"] == task and r.get("status") == "ok"]
        if not ok:
            continue
        best = next((r for r in ok if r.get("vs_best") == "best"), None) or min(ok, key=_validation_order)
        base = next((r for r in ok if (r["backend"], r["classifier"]) == baseline_pairing()), None)
        metric = METRIC_NAMES.get(best["main_metric"], best["main_metric"])
        out.append(
            (
                f"{task} ({metric})",
                f"{best['backend']} + {best['classifier']}: {_score(best)}",
                _score(base) if base else "not run",
                _verdict(base) if base else "",
            )
        )
    return out


def _ci(ci, signed: bool = False) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if signed else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def block_from_findings(path: Path) -> str:
    """The block from ``findings.json`` (``bench.reports.findings``): per task the validation-best pairing of
    another representation against TF-IDF + logreg, corrected across the leaderboard and replicated, and the
    one-sentence answer."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: cannot read the findings ({exc})") from exc
    runs = data.get("replicate_runs") or 0
    lines = [
        f"From `{path.parent.name}/findings.json`: {data['family_size']} findings over {len(data['tasks'])} tasks, "
        f"one family: paired bootstrap p-values ({data['resamples']:,} test-document resamples, seeds resampled "
        f'too), Holm-corrected over all of them; "better" needs Holm p < {data["level"]}, "equivalent" a '
        f"difference interval within +-{data['equivalence_margin']}. "
        + (
            f'"replicated": the same verdict in the original and all {runs} replicate runs (another sampler seed '
            "and another draw of the training documents). "
            if runs
            else "No replicate runs. "
        )
        + f"{data['not_shown_to_learn_count']} rows are not shown to learn (left out of every choice).",
        "",
        "| task (metric) | validation-best other representation: test | TF-IDF + logreg: test | difference, Holm p "
        "| verdict | replication |",
        "|---|---|---|---|---|---|",
    ]
    answers = []
    for task in data["tasks"]:
        head = next((f for f in task["findings"] if f["kind"] == "validation-best vs baseline"), None)
        if head is None:
            base = task.get("baseline_row")
            cells = [task["task"], "none shown to learn", _ci_score(base) if base else "not run", "", "", ""]
        else:
            o, other, ref = head["outcome"], head["other"], head["reference"]
            metric = METRIC_NAMES.get(other["metric"], other["metric"])
            cells = [
                f"{task['task']} ({metric})",
                f"{other['label']} + {other['classifier']}: {_ci_score(other)}",
                _ci_score(ref),
                f"{o['difference']:+.3f} {_ci(o['difference_ci95'], signed=True)}, {o['p_holm']:.3f}",
                o["verdict"],
                head.get("replication") or ("" if runs else "no replicate runs"),
            ]
        lines.append(f"| {' | '.join(cells)} |")
        answers.append(f"- **{task['task']}**: {task['answer']}")
    cost = path.parent.parent / "benchmarks" / "minilm_encoding.json"
    return "\n".join(lines + ["", *answers, *_encoder_lines(data, cost)])


def _encoder_lines(data: dict, cost: Path) -> list[str]:
    """The sentence encoder's standing per task (findings of kind "sentence encoder vs ..."), with what encoding
    the task's splits cost once, cold, from ``cost`` (``tests/benchmarks/minilm_encoding.py``'s file: one
    measurement for every task, rather than each run's own figure, taken beside a concurrent worker or missing
    where the run read cached vectors)."""
    kinds = ("sentence encoder vs baseline", "sentence encoder vs best word-vector network")
    found = {(t["task"], f["kind"]): f for t in data["tasks"] for f in t["findings"] if f["kind"] in kinds}
    if not found:
        return []
    costs = json.loads(cost.read_text(encoding="utf-8")) if cost.is_file() else {}
    measured = costs.get("tasks", {})

    def against(f: dict | None) -> str:
        if f is None:
            return "not compared"
        o = f["outcome"]
        difference = f"{o['difference']:+.3f} {_ci(o['difference_ci95'], signed=True)}"
        return f"{difference}, Holm p {o['p_holm']:.3f}: {o['verdict']}"

    lines = [
        "",
        "The sentence encoder with logistic regression (frozen; the MTEB protocol), against TF-IDF + logreg and "
        "against each task's validation-best word-vector network, in the same Holm family:",
        "",
        "| task | sentence encoder + logreg: test | vs TF-IDF + logreg | best word-vector network: test | vs that "
        "network | encoding, once |",
        "|---|---|---|---|---|---|",
    ]
    headlines = {
        t["task"]: f for t in data["tasks"] for f in t["findings"] if f["kind"] == "validation-best vs baseline"
    }
    encoders = {(f["other"]["backend"], f["other"]["classifier"]) for f in found.values()}
    for task in [t["task"] for t in data["tasks"]]:
        base, net = found.get((task, kinds[0])), found.get((task, kinds[1]))
        headline = headlines.get(task)
        if (
            base is None
            and headline is not None
            and (headline["other"]["backend"], headline["other"]["classifier"]) in encoders
        ):
            base = headline  # the encoder is the task's headline challenger: that finding is its comparison
        head = base or net
        if head is None:
            continue
        enc, network = head["other"], (net or {}).get("reference")
        spent = measured.get(task) if enc["backend"] == "minilm" else None
        encoding = "not measured" if spent is None else encoding_cell(spent)
        best = (
            f"{network['label']} + {network['classifier']}: {_ci_score(network)}" if network else "none shown to learn"
        )
        lines.append(
            f"| {task} | {enc['label']} + {enc['classifier']}: {_ci_score(enc)} | {against(base)} | {best} "
            f"| {against(net)} | {encoding} |"
        )
    lines += [
        "",
        "Encoding: the task's training, validation and test documents to pooled vectors, cold, one task after the "
        f"other on {costs.get('cores', '?')} cores (`python tests/benchmarks/minilm_encoding.py`, "
        "`results/benchmarks/minilm_encoding.json`); later trials and runs read them from the embedding cache."
        + _against_sentence_transformers(cost.parent / "minilm.json"),
    ]
    return lines


def _against_sentence_transformers(path: Path) -> str:
    """The encoder's speed against sentence-transformers' ``encode`` (``tests/benchmarks/minilm_speed.py``), on
    the Keras backend the standard profile uses."""
    if not path.is_file():
        return ""
    speed = json.loads(path.read_text(encoding="utf-8"))
    jax = next(
        (v.get("ratio_to_sentence_transformers") for k, v in speed["encoders"].items() if "(Keras jax)" in k), None
    )
    if jax is None:
        return ""
    return (
        f" Against sentence-transformers' `encode` on {speed['docs']} {speed['task']} documents it runs at "
        f"{jax:.2f}x that speed (Keras on JAX; `results/benchmarks/minilm.json`)."
    )


def encoding_cell(spent: dict) -> str:
    """A task's encoding cost: its documents, the seconds they took and the rate."""
    return f"{spent['documents']:,} documents in {spent['seconds']:.0f} s ({spent['documents_per_second']:.0f}/s)"


def _ci_score(p: dict) -> str:
    return f"{p['value']:.3f} {_ci(p['ci95'])}"


def findings_markdown(results_dir: str | Path = DEFAULT_RESULTS) -> str:
    """The findings block (Markdown, without the markers) for ``results_dir``: from its ``findings.json`` when
    the run wrote one, else (runs before findings) from its ``leaderboard.json``."""
    if (Path(results_dir) / "findings.json").is_file():
        return block_from_findings(Path(results_dir) / "findings.json")
    path = Path(results_dir) / "leaderboard.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: cannot read the leaderboard ({exc})") from exc
    profile = next((r.get("profile") for r in rows if r.get("profile")), "?")
    lines = [
        f"Test scores with 95% intervals from `{path.parent.name}/leaderboard.json` (profile `{profile}`, "
        f"{len(rows)} pairings). The best pairing is the one with the highest validation score; TF-IDF + "
        "logistic regression is compared with it by a paired bootstrap on the test documents, Holm-corrected "
        'within the task ("tied": no significant difference; "worse": significantly below the best).',
        "",
        "| task (metric) | best pairing (chosen on validation): test | TF-IDF + logreg: test | TF-IDF + logreg "
        "against the best |",
        "|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(cells)} |" for cells in findings_rows(rows)]
    return "\n".join(lines)


def curves_markdown(curves_dir: str | Path = DEFAULT_CURVES) -> str:
    """The curves block (Markdown, without the markers) for ``curves_dir``: per task its training sizes and the
    crossover sentence (``bench.studies.curves.crossover_sentence``), from its ``curves.json``; a run written
    before per-size tuning and paired tests (its points carry no ``configuration`` or ``vs_tfidf``) is rendered
    from its ``summary.md``'s first table, under its own rule, and says so."""
    from bench.reports import curve_text as curves

    path = Path(curves_dir) / "curves.json"
    try:
        recs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: cannot read the learning curves ({exc})") from exc
    if not recs or not all("configuration" in r and "vs_tfidf" in r for r in recs):
        return _old_curves_block(Path(curves_dir) / "summary.md")
    tasks = sorted({r["task"] for r in recs})
    family = curves.family_size(recs)
    lines = [
        f"From `{path.parent.name}/curves.json`: {len(recs)} points over {len(tasks)} task"
        f"{'s' if len(tasks) != 1 else ''}. {curves.LEGEND}. The "
        "crossover is the smallest training size at which the other pairing chosen on validation at that size is "
        "better than TF-IDF + logreg by a paired bootstrap on the same test documents (seeds resampled too), "
        f"Holm-corrected over all {family} comparisons of every size and task: those against TF-IDF + logreg and "
        f"those of pretrained word vectors against task-trained ones (Holm p < {curves.LEVEL:g}).",
        "",
        "| task | training sizes | crossover | pretrained vectors against task-trained ones |",
        "|---|---|---|---|",
    ]
    for task in tasks:
        mine = [r for r in recs if r["task"] == task]
        lines.append(
            f"| {task} | {curves.sizes_cell(mine)} | {curves.crossover_sentence(mine)} "
            f"| {curves.pretraining_sentence(mine)} |"
        )
    return "\n".join(lines)


def _old_curves_block(summary: Path) -> str:
    """The block from a ``summary.md`` written before per-size tuning: its first table's task, sizes and
    crossover columns."""
    try:
        table = [line for line in summary.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    except OSError as exc:
        raise BenchError(f"{summary}: cannot read the learning curves ({exc})") from exc
    prov = summary.parent / "provenance.json"
    left_out = len(json.loads(prov.read_text(encoding="utf-8")).get("not_run") or []) if prov.is_file() else 0
    body = []
    for line in table[1:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if len(cells) < 3 or cells[0] == "pairing":
            break
        body.append(f"| {cells[0]} | {cells[1]} | {cells[2]} |")
    return "\n".join(
        [
            f"From `{summary.parent.name}/summary.md`, written before per-size tuning and paired tests: every point "
            "retrained the configuration tuned at the leaderboard's training size, and a crossover needed the "
            "validation-chosen neural pairing's 95% interval wholly above TF-IDF's (no paired test, no "
            "correction)"
            + (f"; {left_out} of its planned points did not fit its time limit" if left_out else "")
            + ". `python -m bench curves` rewrites it under the current design.",
            "",
            "| task | training sizes | crossover (that rule) |",
            "|---|---|---|",
            *body,
        ]
    )


def replace_block(text: str, block: str, where: str = "the file", start: str = START, end: str = END) -> str:
    """``text`` with the part between ``start`` and ``end`` (default the findings markers) replaced by ``block``."""
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise BenchError(f"{where}: needs one {start} line followed by one {end} line")
    head, rest = text.split(start)
    return f"{head}{start}\n{block}\n{end}{rest.split(end, 1)[1]}"


def replace_blocks(text: str, results_dir: Path, curves_dir: Path, where: str = "the file") -> str:
    """``text`` with its findings block, and its curves block when it has the curves markers, rendered anew."""
    updated = replace_block(text, findings_markdown(results_dir), where)
    if CURVES_START in updated or CURVES_END in updated:
        updated = replace_block(updated, curves_markdown(curves_dir), where, CURVES_START, CURVES_END)
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports.readme_block", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help="a results folder (default results/standard)"
    )
    parser.add_argument(
        "--curves", type=Path, default=DEFAULT_CURVES, help="a learning-curves folder (default results/curves)"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", type=Path, metavar="FILE", help="replace the findings block in FILE")
    action.add_argument("--check", type=Path, metavar="FILE", help="exit 1 when FILE's findings block is stale")
    args = parser.parse_args(argv)
    try:
        target = args.write or args.check
        if target is None:
            print(f"{findings_markdown(args.results)}\n\n{curves_markdown(args.curves)}")
            return 0
        text = target.read_text(encoding="utf-8")
        updated = replace_blocks(text, args.results, args.curves, str(target))
    except (BenchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write:
        args.write.write_text(updated, encoding="utf-8")
        return 0
    if updated != text:
        print(
            f"{args.check}: a generated block differs from {args.results} or {args.curves}; run python -m "
            f"bench.reports.readme_block --write {args.check}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
