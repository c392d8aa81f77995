"""The plans of ``bench all``'s phases after the leaderboard's studies, read from the finished rows: the replicate
studies (``bench.tuning.replicates``) and the leave-out studies (``bench.tuning.leave_out``). Here, beside the
command, because choosing them reads the reports' statistics (findings, learning marks), which ``bench.tuning``
must not import."""

from __future__ import annotations

from bench.tuning.leave_out import BACKEND, left_out_dataset
from bench.tuning.result import ResultRow


def replicate_plan(
    rows: list[ResultRow], controls: dict[str, dict], runs: int
) -> tuple[tuple[str, str, str, int], ...]:
    """The replicate studies (task, backend, classifier, k) of finished leaderboard rows carrying their test
    predictions (rows from the storage): per task the baseline pairing and the headline challenger, ``runs``
    times. A task without a challenger shown to learn replicates its baseline alone (nothing to compare, but
    its row is there for the report)."""
    from bench.reports.findings import find, headline_pairings, scored_from_rows
    from bench.tuning.pairings import baseline_pairing
    from embeddings.registry import pretraining_pairs

    if runs < 1:
        return ()
    baseline = baseline_pairing()
    scored = scored_from_rows([r.to_json() for r in rows if r.ok], controls)
    heads = headline_pairings(find(scored, baseline=baseline, pretraining_pairs=pretraining_pairs()))
    out = []
    for task in sorted({s.task for s in scored}):
        pairs = [baseline] + ([heads[task]] if task in heads else [])
        out += [(task, b, c, k) for k in range(1, runs + 1) for b, c in pairs]
    return tuple(out)


def leave_out_chosen(rows: list[ResultRow]) -> dict[str, ResultRow]:
    """Per task, the validation-best finished ``word2vec-corpus`` row shown to learn (rows already marked by
    ``leaderboard.mark_learning``); tasks where none is shown to learn are left out."""
    from bench.reports.rows import validation_order

    out: dict[str, ResultRow] = {}
    for task in sorted({r.task for r in rows}):
        candidates = [r for r in rows if r.task == task and r.backend == BACKEND and r.ok and not r.not_shown_to_learn]
        if candidates:
            out[task] = min(candidates, key=validation_order)
    return out


def leave_out_plan(rows: list[ResultRow], controls: dict[str, dict]) -> tuple[tuple[str, str], ...]:
    """The leave-out studies (task, classifier) of finished leaderboard rows, ordered by the dataset left out
    (a process then switches corpus once per dataset)."""
    from bench.reports.leaderboard import mark_learning

    picked = leave_out_chosen(mark_learning(list(rows), controls))
    return tuple(sorted(((t, r.classifier) for t, r in picked.items()), key=lambda tc: (left_out_dataset(tc[0]), tc)))
