"""The README's "current answer": a short per-task table generated from a committed ``leaderboard.json``.

``findings_markdown(results_dir)`` renders it; ``python -m bench.reports.readme_block`` prints it, ``--write README.md``
replaces the block between ``START`` and ``END`` in a file, and ``--check README.md`` exits 1 when that block
differs from what the committed files give (the README test runs the same comparison).
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
DEFAULT_RESULTS = Path(__file__).resolve().parents[2] / "results" / "standard"
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
                head.get("replication") or "",
            ]
        lines.append(f"| {' | '.join(cells)} |")
        answers.append(f"- **{task['task']}**: {task['answer']}")
    return "\n".join(lines + ["", *answers, *_encoder_lines(data, path.parent / "leaderboard.json")])


def _encoder_lines(data: dict, board: Path) -> list[str]:
    """The sentence encoder's standing per task (findings of kind "sentence encoder vs ..."), with what encoding
    the task cost once (``backend_info.encode_seconds`` of its row in ``board``)."""
    kinds = ("sentence encoder vs baseline", "sentence encoder vs best word-vector network")
    found = {(t["task"], f["kind"]): f for t in data["tasks"] for f in t["findings"] if f["kind"] in kinds}
    if not found:
        return []
    rows = json.loads(board.read_text(encoding="utf-8")) if board.is_file() else []
    seconds = {
        (r["task"], r["backend"]): (r.get("backend_info") or {}).get("encode_seconds")
        for r in rows
        if r.get("status") == "ok"
    }

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
        "network | encoding (s, once) |",
        "|---|---|---|---|---|---|",
    ]
    for task in [t["task"] for t in data["tasks"]]:
        base, net = found.get((task, kinds[0])), found.get((task, kinds[1]))
        head = base or net
        if head is None:
            continue
        enc, network = head["other"], (net or {}).get("reference")
        spent = seconds.get((task, enc["backend"]))
        best = f"{network['label']} + {network['classifier']}: {_ci_score(network)}" if network else "none shown"
        lines.append(
            f"| {task} | {enc['label']} + {enc['classifier']}: {_ci_score(enc)} | {against(base)} | {best} "
            f"| {against(net)} | {'?' if spent is None else f'{spent:.0f}'} |"
        )
    return lines


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


def replace_block(text: str, block: str, where: str = "the file") -> str:
    """``text`` with the part between ``START`` and ``END`` replaced by ``block``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise BenchError(f"{where}: needs one {START} line followed by one {END} line")
    head, rest = text.split(START)
    return f"{head}{START}\n{block}\n{END}{rest.split(END, 1)[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports.readme_block", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help="a results folder (default results/standard)"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", type=Path, metavar="FILE", help="replace the findings block in FILE")
    action.add_argument("--check", type=Path, metavar="FILE", help="exit 1 when FILE's findings block is stale")
    args = parser.parse_args(argv)
    try:
        block = findings_markdown(args.results)
        target = args.write or args.check
        if target is None:
            print(block)
            return 0
        text = target.read_text(encoding="utf-8")
        updated = replace_block(text, block, str(target))
    except (BenchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write:
        args.write.write_text(updated, encoding="utf-8")
        return 0
    if updated != text:
        print(
            f"{args.check}: the findings block differs from {args.results}; run python -m bench.reports.readme_block "
            f"--write {args.check}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
