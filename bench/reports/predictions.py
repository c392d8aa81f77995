"""``predictions.npz``: every finished pairing's per-document test predictions, beside ``leaderboard.json``.

``leaderboard.json`` leaves out the per-document fields of its rows (``ResultRow.to_json(predictions=False)``):
they would be most of it. This file keeps them, compactly, so every interval, p-value and threshold-free metric
of a committed leaderboard can be computed again from a clean clone, without the Optuna storage:
``attach_predictions`` gives rows read from ``leaderboard.json`` their ``test_predictions``, ``test_truth`` and
``test_scores`` back, packed as the runner packs them, and ``bench.reports.leaderboard.mark_ties``,
``row_samples`` and ``bench.reports.findings.scored_from_rows`` take those rows as they take the storage's.

Arrays per pairing (finished rows that carry predictions), under the key prefix ``task/backend/classifier``:

- ``shape``: the shape of the test labels, ``[n]`` or ``[n, labels]`` (multi-label);
- ``truth``: the test labels; ``predictions``: each repeat's hard predictions, ``(repeats, n)``. Class indices
  and 0/1 in the smallest unsigned integer type that holds them; multi-label 0/1 matrices as bits packed along
  the label axis (``np.packbits``: ``(n, ceil(labels / 8))`` and ``(repeats, n, ceil(labels / 8))``);
- ``scores`` (binary and multi-label rows that have them): each repeat's probabilities as the uint16 steps of
  ``bench.tuning.runner.quantise_scores`` (round(p * 65535)), split into two byte planes,
  ``(2, repeats, *shape)`` uint8: high bytes, then low bytes;
- ``test_main_repeats``: the row's per-repeat test scores, so ``attach_predictions`` refuses a file written by
  another run than the leaderboard's.

Why uint16 steps rather than float16: they are exactly what the storage holds (``runner.encode_scores``), so a
metric computed from this file equals the one computed from the storage, bit for bit; float16 would round them
again (a step of 2^-11 above 0.5) and, on measured outputs, compresses worse (1.8 bytes a value against 1.45).
The byte planes are lossless and help the compression: most probabilities are small, so the high-byte plane is
mostly zeros.

Size: multi-label probabilities are nearly all of it. The low byte of a small probability is close to random:
on so-tags100's test split (5,000 x 100 probabilities; tfidf + logreg and learned + flatten-dense, measured) a
repeat takes 1.28 bytes a value with its predictions and labels, 0.64 MB, and no lossless packing of the
1/65535 grid gets far below the order-0 entropy of those values, 1.15 bytes. Estimate for the standard profile
(30 pairings a task, 24 with 3 repeats and 6 deterministic with one: 78 fits a task): so-tags100 about 50 MB,
so-2008-top20 (401 x 20) under 1 MB, the four single-label tasks under 1 MB together; about 52 MB in all. The
shape ``tests/test_predictions.py`` measures (6 tasks x 35 pairings x 3 repeats of 5,000 documents, synthetic
probabilities a little less compressible than the measured ones) gives about 88 MB. A 25 MB file needs a grid
of about 10 bits (0.5 bytes a value), which moves so-tags100's micro-averaged average precision by about 0.002
(measured; 12 bits: 0.0005); the file keeps the storage's grid instead, so that numbers re-derived from it are
the published ones. So ``bench.reports.leaderboard.write_leaderboard`` keeps probabilities only for the rows
its findings compare (about 6 a task: so-tags100 some 11 MB, the file under 15 MB in all); every row's hard
predictions are kept (what every interval and p-value of the main metric is computed from), and the other
rows' probabilities stay in the Optuna storage.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.files import atomic_write
from bench.tuning.result import ResultRow
from bench.tuning.runner import (
    decode_predictions,
    decode_quantised,
    encode_predictions,
    encode_quantised,
)

FILE_NAME = "predictions.npz"
FORMAT = "pairbench predictions 1"


def key_of(row: ResultRow) -> str:
    """The key prefix of a row's arrays: ``task/backend/classifier``."""
    return "/".join(row.pairing)


def write_predictions(
    rows: list[ResultRow], out_dir: Path, scores_for: set[tuple[str, str, str]] | None = None
) -> dict[str, Path]:
    """Write ``out_dir/predictions.npz`` (atomically) from the finished rows that carry predictions; returns
    ``{"predictions": path}``. Rows without predictions (read back from ``leaderboard.json``) are left out; when
    no row has any, nothing is written and an existing file is kept, so rewriting a leaderboard from its JSON
    never empties the committed predictions. ``scores_for``: the (task, backend, classifier) whose probabilities
    are kept (the rows the findings compare, the only ones a threshold-free metric is shown for); None: every
    row's. Every row's hard predictions are kept."""
    arrays: dict[str, Any] = {}  # Any: numpy's stubs read ``**arrays`` as its keyword options
    for r in rows:
        if r.ok and r.test_predictions and r.test_truth:
            keep = scores_for is None or r.pairing in scores_for
            arrays.update(_arrays(r if keep else r.replace(test_scores=None)))
    if not arrays:
        return {}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, format=np.array(FORMAT), **arrays)
    path = Path(out_dir) / FILE_NAME
    atomic_write(path, buffer.getvalue())
    return {"predictions": path}


def attach_predictions(rows: list[ResultRow], out_dir: Path) -> list[ResultRow]:
    """The rows with ``test_predictions``, ``test_truth`` and ``test_scores`` from ``out_dir/predictions.npz``,
    packed as the runner packs them (``runner.encode_predictions``, ``runner.encode_scores``). Rows the file has
    no entry for (failed or unfinished ones) are returned as they are. Raises ``BenchError`` when the file is
    missing or not a predictions file, or when an entry's per-repeat test scores differ from its row's (the
    file was written by another run)."""
    path = Path(out_dir) / FILE_NAME
    if not path.is_file():
        raise BenchError(f"{path}: no predictions file (written by `python -m bench report` beside leaderboard.json)")
    with np.load(path, allow_pickle=False) as npz:
        if "format" not in npz.files or str(npz["format"]) != FORMAT:
            raise BenchError(f"{path}: not a pairbench predictions file (expected format {FORMAT!r})")
        return [_attached(r, npz, path) for r in rows]


def _arrays(r: ResultRow) -> dict[str, np.ndarray]:
    assert r.test_predictions and r.test_truth  # checked by the caller
    key = key_of(r)
    truth = decode_predictions(r.test_truth)
    multilabel = truth.ndim == 2
    predictions = np.stack([decode_predictions(p) for p in r.test_predictions])
    out = {
        f"{key}/shape": np.array(truth.shape, dtype=np.int64),
        f"{key}/truth": _pack_decisions(truth, multilabel),
        f"{key}/predictions": _pack_decisions(predictions, multilabel),
        f"{key}/test_main_repeats": np.array(r.test_main_repeats or [], dtype=np.float64),
    }
    if r.test_scores:
        steps = np.stack([decode_quantised(s) for s in r.test_scores])
        out[f"{key}/scores"] = np.stack([(steps >> 8).astype(np.uint8), (steps & 0xFF).astype(np.uint8)])
    return out


def _attached(r: ResultRow, stored: Mapping[str, np.ndarray], path: Path) -> ResultRow:
    key = key_of(r)
    if not r.ok or f"{key}/truth" not in stored:
        return r
    repeats = stored[f"{key}/test_main_repeats"]
    if r.test_main_repeats is not None and not np.array_equal(repeats, np.asarray(r.test_main_repeats, float)):
        raise BenchError(
            f"{path}: the predictions of {key} belong to another run (test scores {repeats.tolist()}, "
            f"leaderboard.json {r.test_main_repeats}); write both again with `python -m bench report`"
        )
    shape = tuple(int(n) for n in stored[f"{key}/shape"])
    truth = _unpack_decisions(stored[f"{key}/truth"], shape)
    predictions = [_unpack_decisions(p, shape) for p in stored[f"{key}/predictions"]]
    scores = None
    if f"{key}/scores" in stored:
        high, low = stored[f"{key}/scores"].astype(np.uint16)
        scores = [encode_quantised((h << 8) | lo) for h, lo in zip(high, low)]
    return r.replace(
        test_truth=encode_predictions(truth),
        test_predictions=[encode_predictions(p) for p in predictions],
        test_scores=scores,
    )


def _pack_decisions(values: np.ndarray, multilabel: bool) -> np.ndarray:
    """Labels or hard predictions, stored small: multi-label 0/1 matrices as bits packed along the last (label)
    axis, class indices and 0/1 in the smallest unsigned type that holds them."""
    if multilabel:
        return np.packbits(values.astype(np.uint8), axis=-1)
    if values.min(initial=0) < 0:  # not a class index: kept whole
        return values.astype(np.int64)
    return values.astype(np.min_scalar_type(int(values.max(initial=0))))


def _unpack_decisions(packed: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One array of ``_pack_decisions`` of test labels of ``shape`` (truth, or one repeat's predictions)."""
    if len(shape) == 2:
        return np.unpackbits(packed, axis=-1, count=shape[1])
    return packed.astype(np.int64)
