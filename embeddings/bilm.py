"""A small ELMo-architecture bidirectional language model, trained here and exported like TF Hub ELMo.

The real ``google/elmo/3`` weights cannot be downloaded on machines without internet, so the ``elmo``
backend can use a biLM pretrained on the benchmark's leak-guarded corpus (``embeddings.corpus``) instead. The
architecture follows Peters et al. (2018), "Deep contextualized word representations", and its reference code
(bilm-tf), scaled down:

- each token is spelled as UTF-8 bytes between begin- and end-of-word markers (ids 1-256 are bytes + 1,
  257/258 the sentence-boundary characters, 259/260 begin/end of word, 261 padding inside a word, 0 a
  padding token), embedded, and read by a character CNN (one filter bank per width, max over time, ReLU);
- highway layer(s) and a linear projection give the context-independent token embedding (layer 0);
- a 2-layer LSTM with cell clipping and a projection per direction (forward and backward), with a
  residual connection from layer 1 to layer 2 (layers 1 and 2);
- one softmax over the word vocabulary, shared by both directions, predicts the next (forward) or the
  previous (backward) word; sampled softmax when the vocabulary is large, the full softmax for perplexity;
- the ELMo scalar mix, ``gamma * sum_k softmax(s)_k * layer_k``, of the three layers (layer 0 is
  duplicated to the width of the bidirectional layers, as in bilm-tf). Its weights start at
  ``s = 0, gamma = 1`` (an equal mix) and are variables of the export, to be tuned by a downstream task.

``train_bilm(texts, settings, validation_texts=...)`` trains one and reports its parameter count and
held-out perplexity (the exponential of the mean cross-entropy of both directions, over every held-out
word including the sentence end). ``export_bilm`` writes a TF2 SavedModel whose ``default`` signature
mimics TF Hub ELMo: a 1-D string tensor ``text`` in, split on whitespace (so feed texts re-joined from
the shared tokeniser's tokens); out ``elmo`` [batch, max_len, 2*projection_dim], ``default`` [batch,
2*projection_dim] (mean over the non-padding tokens), ``word_emb`` [batch, max_len, projection_dim],
``lstm_outputs1``/``lstm_outputs2`` [batch, max_len, 2*projection_dim] and ``sequence_len`` [batch];
every output is exactly zero at padding positions. ``trained_bilm`` does both, cached under the
embedding cache's root by a hash of the training corpus and the settings.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from embeddings.tokenize import tokenize

VERSION = "1"
SOFTMAXES = ("sampled", "full")
# Character ids (bilm-tf's, after its +1 shift so that 0 marks a padding token).
BOS_CHAR, EOS_CHAR, BOW_CHAR, EOW_CHAR, PAD_CHAR, N_CHARS = 257, 258, 259, 260, 261, 262
# Word ids: 0 padding, then the unknown word and the sentence boundaries, then words by frequency.
PAD_ID, UNK_ID, BOS_ID, EOS_ID, FIRST_WORD_ID = 0, 1, 2, 3, 4
EXPORT_PREFIX = "elmo-bilm-"
# Windows per held-out perplexity batch: the full softmax over the vocabulary is [batch, window, vocabulary]
# floats (256 windows x 22 x 20,004 words = 450 MB, several copies in flight; 64 keep it near 110 MB).
EVAL_BATCH = 64
_TRAINED: dict[str, tuple[Path, dict]] = {}  # corpus key -> (export dir, report), so a process trains each once


@dataclass(frozen=True)
class BiLMSettings:
    """Size and training budget of a biLM; ``PRESETS`` holds the measured ones per profile.

    Architecture: ``char_dim`` (character embedding, ELMo 16), ``filters`` ((width, count) pairs of the
    character CNN; ELMo uses widths 1-7 with 2,048 filters in all, recommended here 128-512),
    ``n_highway`` (ELMo 2), ``projection_dim`` (token embedding and LSTM output width per direction; ELMo
    512, so ``elmo`` vectors are 1,024 wide; recommended here 32-256), ``cell_dim`` (LSTM memory cells,
    ELMo 4,096, recommended 2-4x ``projection_dim``), ``max_chars`` (bytes per token incl. the two
    markers; ELMo 50, 24 keeps all but very long identifiers), ``cell_clip``/``proj_clip`` (ELMo 3).
    Vocabulary: ``vocab_size`` (most frequent training words kept incl. the 4 special ids; rarer ones
    still reach the character CNN but are predicted as the unknown word), ``min_count``.
    Training: ``window`` (tokens per training sequence, ELMo's 20 unroll steps), ``batch_size``,
    ``steps`` (Adam updates), ``learning_rate`` (the first step's; it decays linearly to a tenth by the
    last), ``dropout`` (on the LSTM inputs, ELMo 0.1),
    ``softmax`` ("sampled": a sampled softmax while training, ``num_sampled`` words drawn log-uniformly
    over the frequency-sorted vocabulary with the log-Q correction and accidental hits removed, when the
    vocabulary is more than twice as large; "full": the full softmax at every position, for comparison),
    ``num_sampled`` (ELMo 8,192 of 793k), ``eval_windows`` (held-out sequences, drawn with the seed, on
    which perplexity is measured with the full softmax: a fixed sample keeps that cost bounded), ``seed``.
    """

    char_dim: int = 16
    filters: tuple[tuple[int, int], ...] = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 128))
    n_highway: int = 2
    projection_dim: int = 128
    cell_dim: int = 256
    max_chars: int = 24
    cell_clip: float = 3.0
    proj_clip: float = 3.0
    vocab_size: int = 20000
    min_count: int = 2
    window: int = 20
    batch_size: int = 64
    steps: int = 700
    learning_rate: float = 2e-3
    dropout: float = 0.1
    num_sampled: int = 1024
    eval_windows: int = 2000
    seed: int = 13
    softmax: str = "sampled"

    def __post_init__(self) -> None:
        problems = [
            f"{name}={getattr(self, name)!r} (expected >= {low})"
            for name, low in [
                ("char_dim", 1),
                ("projection_dim", 1),
                ("cell_dim", 1),
                ("max_chars", 4),
                ("vocab_size", 8),
                ("window", 2),
                ("batch_size", 1),
                ("steps", 1),
                ("num_sampled", 1),
                ("eval_windows", 1),
            ]
            if getattr(self, name) < low
        ]
        if not self.filters or any(w < 1 or n < 1 for w, n in self.filters):
            problems.append(f"filters={self.filters!r} (expected (width >= 1, count >= 1) pairs)")
        if self.softmax not in SOFTMAXES:
            problems.append(f"softmax={self.softmax!r} (expected one of {', '.join(SOFTMAXES)})")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout={self.dropout!r} (expected 0 <= dropout < 1)")
        if problems:
            raise ValueError(f"BiLMSettings: {'; '.join(problems)}")

    def as_dict(self) -> dict:
        return asdict(self)


# Picked by run profile (``tiny`` for unconfigured use and the tests); what each costs and reaches is in
# docs/performance.md and docs/corpus.md.
PRESETS: dict[str, BiLMSettings] = {
    "tiny": BiLMSettings(
        char_dim=8,
        filters=((1, 16), (2, 16), (3, 32)),
        n_highway=1,
        projection_dim=32,
        cell_dim=64,
        max_chars=16,
        vocab_size=2000,
        min_count=1,
        window=16,
        batch_size=32,
        steps=60,
        learning_rate=5e-3,
    ),
    "smoke": BiLMSettings(
        char_dim=16,
        filters=((1, 32), (2, 32), (3, 64), (4, 64)),
        n_highway=1,
        projection_dim=64,
        cell_dim=128,
        vocab_size=8000,
        min_count=1,
        batch_size=32,
        steps=150,
        learning_rate=4e-3,
        num_sampled=512,
    ),
    "standard": BiLMSettings(n_highway=1, batch_size=32, steps=8500),
    "full": BiLMSettings(
        filters=((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 256)),
        cell_dim=512,
        vocab_size=50000,
        steps=3000,
        num_sampled=2048,
    ),
}


@dataclass
class BiLMReport:
    """What training produced: sizes, held-out perplexity, the curve and the cost."""

    settings: dict
    n_params: int
    vocabulary: int
    train_tokens: int
    validation_tokens: int
    perplexity: float | None  # held-out (validation texts), full softmax, both directions
    perplexity_before: float | None  # the same, before the first update (falls if training works)
    train_loss: list[float] = field(default_factory=list)  # mean loss per tenth of training
    perplexity_curve: list[float] = field(default_factory=list)  # held-out perplexity after each tenth
    seconds: float = 0.0
    export_dir: str = ""

    @property
    def label(self) -> str:
        return label_of(asdict(self))


def label_of(report: dict) -> str:
    """How leaderboards name a biLM, from its report: ``biLM trained here, 4.4M params, 5.6M tokens, ppl 180``."""
    ppl, tokens = report.get("perplexity"), report.get("train_tokens") or 0
    size = f"{tokens / 1e6:.1f}M" if tokens >= 1e5 else f"{tokens / 1e3:.0f}k"
    return (
        f"biLM trained here, {report['n_params'] / 1e6:.1f}M params, {size} tokens, "
        f"ppl {'n/a' if ppl is None else f'{ppl:.0f}'}"
    )


def _tf() -> Any:
    import tensorflow as tf

    return tf


def vocabulary_of(token_lists: list[list[str]], settings: BiLMSettings) -> list[str]:
    """Training words by frequency (ties alphabetically), at most ``vocab_size - 4`` of them."""
    counts = collections.Counter(t for toks in token_lists for t in toks)
    ranked = sorted((kv for kv in counts.items() if kv[1] >= settings.min_count), key=lambda kv: (-kv[1], kv[0]))
    return [w for w, _ in ranked[: settings.vocab_size - FIRST_WORD_ID]]


def _build_module(settings: BiLMSettings, vocab: list[str]):
    """The biLM as a ``tf.Module`` (built lazily so that importing this file does not import TensorFlow)."""
    tf = _tf()
    s = settings
    rng = tf.random.Generator.from_seed(s.seed)

    def weight(shape, name, scale=None):
        fan_in = shape[-2] if len(shape) > 1 else shape[0]
        std = scale if scale is not None else 1.0 / math.sqrt(fan_in)
        return tf.Variable(rng.truncated_normal(shape, stddev=std), name=name)

    def zeros(shape, name, value=0.0):
        return tf.Variable(tf.fill(shape, value), name=name)

    class BiLM(tf.Module):  # type: ignore[name-defined]  # TensorFlow is imported lazily, inside this function
        def __init__(self):
            super().__init__(name="bilm")
            self.char_embedding = weight([N_CHARS, s.char_dim], "char_embedding", 1.0)
            self.conv_w = [
                weight([w, s.char_dim, n], f"conv{w}_w", math.sqrt(1.0 / (w * s.char_dim))) for w, n in s.filters
            ]
            self.conv_b = [zeros([n], f"conv{w}_b") for w, n in s.filters]
            width = sum(n for _, n in s.filters)
            self.highway = [
                (
                    weight([width, width], f"highway{i}_carry_w"),
                    zeros([width], f"highway{i}_carry_b"),
                    weight([width, width], f"highway{i}_gate_w"),
                    zeros([width], f"highway{i}_gate_b", -2.0),
                )
                for i in range(s.n_highway)
            ]
            self.proj_w = weight([width, s.projection_dim], "projection_w")
            self.proj_b = zeros([s.projection_dim], "projection_b")
            # LSTM weights stacked over the two directions (index 0 forward, 1 backward).
            p, c = s.projection_dim, s.cell_dim
            self.lstm = [
                (
                    weight([2, p, 4 * c], f"lstm{k}_input_w"),
                    weight([2, p, 4 * c], f"lstm{k}_state_w"),
                    zeros([2, 1, 4 * c], f"lstm{k}_b"),
                    weight([2, c, p], f"lstm{k}_projection_w"),
                )
                for k in (1, 2)
            ]
            self.softmax_w = weight([len(vocab) + FIRST_WORD_ID, p], "softmax_w")
            self.softmax_b = zeros([len(vocab) + FIRST_WORD_ID], "softmax_b")
            self.scalar_mix = tf.Variable(tf.zeros([3]), name="elmo_scalar_mix")  # softmax-normalised
            self.gamma = tf.Variable(1.0, name="elmo_gamma")

        # --- token embedding: characters -> CNN -> highway -> projection -------------------------------
        def char_ids(self, tokens):
            return _char_ids(self, s, tokens)

        def with_boundaries(self, char_ids, n_tokens):
            return _with_boundaries(self, s, char_ids, n_tokens)

        def token_embedding(self, char_ids):
            return _token_embedding(self, s, char_ids)

        # --- the two LSTM layers, both directions in one loop over time -------------------------------
        def lstm_layers(self, x, lengths, training):
            return _lstm_layers(self, s, x, lengths, training)

        # --- language-model loss ----------------------------------------------------------------------
        def loss(self, char_ids, word_ids, n_tokens, training, sampled):
            return _lm_loss(self, s, char_ids, word_ids, n_tokens, training, sampled)

        # --- the TF Hub ELMo-style signature ---------------------------------------------------------
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def default(self, text):
            return _elmo_signature(self, s, text)

    return BiLM()


def _char_ids(m, s: BiLMSettings, tokens):
    """[..] string tokens -> [.., max_chars] character ids; empty strings become padding tokens."""
    tf = _tf()
    length = tf.minimum(tf.strings.length(tokens), s.max_chars - 2)
    raw = tf.cast(tf.io.decode_raw(tokens, tf.uint8, fixed_length=s.max_chars - 2), tf.int32) + 1
    pos = tf.range(s.max_chars - 2)
    body = tf.where(pos < length[..., None], raw, PAD_CHAR)
    shape = tf.shape(body)[:-1]
    ids = tf.concat(
        [tf.fill(tf.concat([shape, [1]], 0), BOW_CHAR), body, tf.fill(tf.concat([shape, [1]], 0), PAD_CHAR)],
        axis=-1,
    )
    ids = tf.where(tf.range(s.max_chars) == length[..., None] + 1, EOW_CHAR, ids)
    return tf.where((tf.strings.length(tokens) > 0)[..., None], ids, 0)


def _with_boundaries(m, s: BiLMSettings, char_ids, n_tokens):
    """[B, T, C] token characters -> [B, T+2, C] with <S> first and </S> after the last token."""
    tf = _tf()
    batch, length = tf.shape(char_ids)[0], tf.shape(char_ids)[1]

    def boundary(char):
        word = tf.concat([[BOW_CHAR, char, EOW_CHAR], tf.fill([s.max_chars - 3], PAD_CHAR)], 0)
        return tf.broadcast_to(word, [batch, length + 2, s.max_chars])

    shifted = tf.pad(char_ids, [[0, 0], [1, 1], [0, 0]])
    pos = tf.range(length + 2)[None, :, None]
    out = tf.where(pos == 0, boundary(BOS_CHAR), shifted)
    return tf.where(pos == n_tokens[:, None, None] + 1, boundary(EOS_CHAR), out)


def _token_embedding(m, s: BiLMSettings, char_ids):
    """[B, T, C] character ids -> [B, T, projection_dim] (layer 0)."""
    tf = _tf()
    batch, length = tf.shape(char_ids)[0], tf.shape(char_ids)[1]
    x = tf.nn.embedding_lookup(m.char_embedding, tf.reshape(char_ids, [-1, s.max_chars]))
    pooled = [tf.nn.relu(tf.reduce_max(tf.nn.conv1d(x, w, 1, "VALID") + b, axis=1)) for w, b in zip(m.conv_w, m.conv_b)]
    h = tf.concat(pooled, axis=-1)
    for carry_w, carry_b, gate_w, gate_b in m.highway:
        gate = tf.sigmoid(h @ gate_w + gate_b)
        h = gate * tf.nn.relu(h @ carry_w + carry_b) + (1.0 - gate) * h
    h = h @ m.proj_w + m.proj_b
    return tf.reshape(h, [batch, length, s.projection_dim])


def _lstm_layers(m, s: BiLMSettings, x, lengths, training):
    """x [B, T, P] (with boundaries), lengths [B] -> (layer1, layer2), each [2, B, T, P]."""
    tf = _tf()
    backward = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
    x2 = tf.stack([x, backward])  # [2, B, T, P]
    batch = tf.shape(x)[0]
    if training and s.dropout > 0:
        keep = 1.0 - s.dropout
        x2 = tf.nn.dropout(x2, s.dropout)
        between = tf.cast(tf.random.uniform([2, batch, s.projection_dim]) < keep, tf.float32) / keep
    else:
        between = tf.ones([2, batch, s.projection_dim])
    (w1, u1, b1, p1), (w2, u2, b2, p2) = m.lstm
    inputs1 = tf.einsum("dbtp,dpk->tdbk", x2, w1) + b1[None]  # input projections, hoisted out of the loop

    def cell(z, c, proj):
        i, j, f, o = tf.split(z, 4, axis=-1)
        c = tf.clip_by_value(tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j), -s.cell_clip, s.cell_clip)
        h = tf.clip_by_value(tf.matmul(tf.sigmoid(o) * tf.tanh(c), proj), -s.proj_clip, s.proj_clip)
        return c, h

    def step(state, z1):
        c1, h1, c2, h2 = state
        c1, h1 = cell(z1 + tf.matmul(h1, u1), c1, p1)
        c2, h2 = cell(tf.matmul(h1 * between, w2) + tf.matmul(h2, u2) + b2, c2, p2)
        return c1, h1, c2, h2

    zero_c = tf.zeros([2, batch, s.cell_dim])
    zero_h = tf.zeros([2, batch, s.projection_dim])
    _, out1, _, out2 = tf.scan(step, inputs1, initializer=(zero_c, zero_h, zero_c, zero_h))
    out1 = tf.transpose(out1, [1, 2, 0, 3])  # [2, B, T, P]
    out2 = tf.transpose(out2, [1, 2, 0, 3]) + out1  # residual connection between the layers

    def unreverse(layer):
        return tf.stack([layer[0], tf.reverse_sequence(layer[1], lengths, seq_axis=1, batch_axis=0)])

    mask = tf.cast(tf.sequence_mask(lengths, tf.shape(x)[1]), tf.float32)[None, :, :, None]
    return unreverse(out1) * mask, unreverse(out2) * mask


def _lm_loss(m, s: BiLMSettings, char_ids, word_ids, n_tokens, training, sampled):
    """Mean cross-entropy of both directions; word_ids [B, T+2] include <S> and </S>."""
    tf = _tf()
    full = m.with_boundaries(char_ids, n_tokens)
    lengths = n_tokens + 2
    x = m.token_embedding(full)
    if training and s.dropout > 0:
        x = tf.nn.dropout(x, s.dropout)
    _, top = m.lstm_layers(x, lengths, training)
    steps = tf.shape(word_ids)[1]
    # forward: positions 0..n predict 1..n+1; backward: positions 1..n+1 predict 0..n.
    fwd_h, fwd_y = top[0][:, :-1], word_ids[:, 1:]
    bwd_h, bwd_y = top[1][:, 1:], word_ids[:, :-1]
    fwd_mask = tf.sequence_mask(n_tokens + 1, steps - 1)
    h = tf.concat([tf.boolean_mask(fwd_h, fwd_mask), tf.boolean_mask(bwd_h, fwd_mask)], 0)
    y = tf.concat([tf.boolean_mask(fwd_y, fwd_mask), tf.boolean_mask(bwd_y, fwd_mask)], 0)
    if sampled:
        losses = tf.nn.sampled_softmax_loss(
            m.softmax_w,
            m.softmax_b,
            tf.cast(y[:, None], tf.int64),
            h,
            num_sampled=s.num_sampled,
            num_classes=m.softmax_b.shape[0],
            seed=s.seed,
        )
    else:
        logits = tf.matmul(h, m.softmax_w, transpose_b=True) + m.softmax_b
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    return tf.reduce_sum(losses), tf.cast(tf.size(y), tf.float32)


def _elmo_signature(m, s: BiLMSettings, text):
    """The TF Hub ELMo outputs of whitespace-tokenised ``text`` [B]: elmo, default (mean), word_emb, lstm_outputs1/2."""
    tf = _tf()
    tokens = tf.strings.split(text)
    n_tokens = tf.cast(tokens.row_lengths(), tf.int32)
    padded = tokens.to_tensor("")
    length = tf.shape(padded)[1]
    full = m.with_boundaries(m.char_ids(padded), n_tokens)
    layer0 = m.token_embedding(full)
    layer1, layer2 = m.lstm_layers(layer0, n_tokens + 2, training=False)
    mask = tf.cast(tf.sequence_mask(n_tokens, length), tf.float32)[:, :, None]

    def strip(t):  # drop <S> and </S>, zero the padding
        return t[:, 1 : length + 1] * mask

    word_emb = strip(layer0)
    lstm1 = strip(tf.concat([layer1[0], layer1[1]], -1))
    lstm2 = strip(tf.concat([layer2[0], layer2[1]], -1))
    weights = tf.nn.softmax(m.scalar_mix)
    elmo = m.gamma * (weights[0] * tf.concat([word_emb, word_emb], -1) + weights[1] * lstm1 + weights[2] * lstm2)
    count = tf.maximum(tf.cast(n_tokens, tf.float32), 1.0)[:, None]
    return {
        "elmo": elmo,
        "default": tf.reduce_sum(elmo, axis=1) / count,
        "word_emb": word_emb,
        "lstm_outputs1": lstm1,
        "lstm_outputs2": lstm2,
        "sequence_len": n_tokens,
    }


def _windows(token_lists: list[list[str]], window: int) -> list[list[str]]:
    """Documents cut into training sequences of at most ``window`` tokens (each gets <S> ... </S>)."""
    return [toks[i : i + window] for toks in token_lists for i in range(0, len(toks), window) if toks[i : i + window]]


class _Batches:
    """Training/evaluation sequences as arrays: type indices into a char-id table, word ids, lengths."""

    def __init__(self, module, windows: list[list[str]], word_id: dict[str, int], width: int):
        tf = _tf()
        types = sorted({t for w in windows for t in w})
        type_index = {t: i for i, t in enumerate(types)}
        self.char_table = module.char_ids(tf.constant(types or [""])).numpy()
        n = len(windows)
        self.types = np.zeros((n, width), np.int32)
        self.words = np.zeros((n, width + 2), np.int32)
        self.lengths = np.array([len(w) for w in windows], np.int32)
        for row, toks in enumerate(windows):
            self.types[row, : len(toks)] = [type_index[t] for t in toks]
            self.words[row, : len(toks) + 2] = [BOS_ID] + [word_id.get(t, UNK_ID) for t in toks] + [EOS_ID]

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, rows: np.ndarray):
        longest = max(1, int(self.lengths[rows].max()))
        chars = self.char_table[self.types[rows, :longest]]
        chars[np.arange(longest)[None, :] >= self.lengths[rows][:, None]] = 0  # padding tokens
        return chars, self.words[rows, : longest + 2], self.lengths[rows]


def _perplexity(eval_step, batches: _Batches | None, batch_size: int) -> float | None:
    if batches is None or not len(batches):
        return None
    total = count = 0.0
    order = np.argsort(batches.lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        loss, n = eval_step(*batches.take(order[start : start + batch_size]))
        total, count = total + float(loss), count + float(n)
    return float(math.exp(total / max(count, 1.0)))


class TrainedBiLM(NamedTuple):
    module: Any  # the tf.Module; ``module.default`` is the ELMo-style signature
    vocabulary: list[str]  # words by id, from FIRST_WORD_ID on
    report: BiLMReport


class _Training(NamedTuple):
    module: Any
    vocabulary: list[str]
    train_tokens: list[list[str]]
    train: _Batches
    held_out: _Batches | None
    train_step: Callable[..., Any]  # tf.function(chars, words, lengths) -> mean training loss, one Adam update
    eval_step: Callable[..., Any]  # tf.function(chars, words, lengths) -> (summed full-softmax loss, words)


def uses_sampled_softmax(settings: BiLMSettings, classes: int) -> bool:
    """Whether training uses the sampled softmax: ``softmax="sampled"`` and more than ``2 x num_sampled`` words."""
    return settings.softmax == "sampled" and classes > 2 * settings.num_sampled


def _prepare(texts: list[str], settings: BiLMSettings, validation_texts: list[str] | None) -> _Training:
    """Vocabulary, module, training and held-out sequences, and the compiled train and eval steps."""
    tf = _tf()
    tf.random.set_seed(settings.seed)
    train_tokens = [tokenize(t) for t in texts]
    if not any(train_tokens):
        raise ValueError("train_bilm: the training texts contain no tokens")
    vocab = vocabulary_of(train_tokens, settings)
    word_id = {w: i + FIRST_WORD_ID for i, w in enumerate(vocab)}
    module = _build_module(settings, vocab)
    train = _Batches(module, _windows(train_tokens, settings.window), word_id, settings.window)
    held_out = None
    if validation_texts:
        windows = _windows([tokenize(t) for t in validation_texts], settings.window)
        if len(windows) > settings.eval_windows:  # a fixed sample: the full softmax over all of them is slow
            pick = np.random.default_rng(settings.seed).choice(len(windows), settings.eval_windows, replace=False)
            windows = [windows[i] for i in sorted(pick)]
        held_out = _Batches(module, windows, word_id, settings.window)
    spec = [
        tf.TensorSpec([None, None, None], tf.int32),
        tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None], tf.int32),
    ]

    @tf.function(input_signature=spec)
    def eval_step(chars, words, lengths):
        return module.loss(chars, words, lengths, training=False, sampled=False)

    train_step = tf.function(_train_step(module, settings), input_signature=spec)
    return _Training(module, vocab, train_tokens, train, held_out, train_step, eval_step)


def _train_step(module, settings: BiLMSettings):
    """One Adam update on a batch (the Python function; ``_prepare`` compiles it)."""
    tf = _tf()
    sampled = uses_sampled_softmax(settings, module.softmax_b.shape[0])
    optimizer_vars = [v for v in module.trainable_variables if v is not module.scalar_mix and v is not module.gamma]
    slots = [(tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in optimizer_vars]
    step_var = tf.Variable(0.0)

    def train_step(chars, words, lengths):
        with tf.GradientTape() as tape:
            total, count = module.loss(chars, words, lengths, training=True, sampled=sampled)
            loss = total / count
        grads = tape.gradient(loss, optimizer_vars)
        grads, _ = tf.clip_by_global_norm(grads, 5.0)
        step_var.assign_add(1.0)
        # Adam's bias correction, and a linear decay to a tenth of the rate by the last step.
        decay = 1.0 - 0.9 * (step_var - 1.0) / max(1.0, settings.steps - 1.0)
        lr = settings.learning_rate * decay * tf.sqrt(1.0 - 0.999**step_var) / (1.0 - 0.9**step_var)
        for var, grad, (m, v) in zip(optimizer_vars, grads, slots):  # Adam written out: Keras 3 here may run on JAX
            if isinstance(grad, tf.IndexedSlices):
                grad = tf.convert_to_tensor(grad)
            m.assign(0.9 * m + 0.1 * grad)
            v.assign(0.999 * v + 0.001 * tf.square(grad))
            var.assign_sub(lr * m / (tf.sqrt(v) + 1e-8))
        return loss

    return train_step


def train_bilm(
    texts: list[str], settings: BiLMSettings, *, validation_texts: list[str] | None = None, log=None
) -> TrainedBiLM:
    """Train a biLM on ``texts`` (training text only); perplexity is measured on ``validation_texts``.

    Returns the module, its vocabulary and a ``BiLMReport``. ``log`` (e.g. ``print``) receives progress lines.
    """
    started = time.perf_counter()
    t = _prepare(texts, settings, validation_texts)
    before = _perplexity(t.eval_step, t.held_out, EVAL_BATCH)
    rng = np.random.default_rng(settings.seed)
    losses: list[float] = []
    curve: list[float] = []
    held_out_curve: list[float] = []
    chunk = max(1, settings.steps // 10)
    for step in range(settings.steps):
        rows = rng.integers(0, len(t.train), settings.batch_size)
        losses.append(float(t.train_step(*t.train.take(rows))))
        if (step + 1) % chunk == 0 or step + 1 == settings.steps:
            curve.append(round(float(np.mean(losses[-chunk:])), 4))
            ppl = _perplexity(t.eval_step, t.held_out, EVAL_BATCH)
            if ppl is not None:
                held_out_curve.append(round(ppl, 2))
            if log:
                log(
                    f"biLM step {step + 1}/{settings.steps}: training loss {curve[-1]:.3f}"
                    + ("" if ppl is None else f", held-out perplexity {ppl:.1f}")
                    + f" ({time.perf_counter() - started:.0f} s)"
                )
    after = held_out_curve[-1] if held_out_curve else None
    n_params = int(sum(np.prod(v.shape) for v in t.module.trainable_variables))
    report = BiLMReport(
        settings.as_dict(),
        n_params,
        len(t.vocabulary) + FIRST_WORD_ID,
        int(sum(len(x) for x in t.train_tokens)),
        int(t.held_out.lengths.sum()) if t.held_out else 0,
        None if after is None else round(after, 2),
        None if before is None else round(before, 2),
        curve,
        held_out_curve,
        round(time.perf_counter() - started, 2),
    )
    return TrainedBiLM(t.module, t.vocabulary, report)


def export_bilm(trained: TrainedBiLM, directory: str | os.PathLike) -> Path:
    """Write the module as a TF2 SavedModel with a TF Hub ELMo-style ``default`` signature (+ report, vocab)."""
    tf = _tf()
    directory = Path(directory)
    tf.saved_model.save(trained.module, str(directory), signatures={"default": trained.module.default})
    (directory / "bilm_report.json").write_text(json.dumps(asdict(trained.report), indent=1), encoding="utf-8")
    (directory / "vocab.txt").write_text(
        "\n".join(["<pad>", "<unk>", "<S>", "</S>", *trained.vocabulary]) + "\n", encoding="utf-8"
    )
    return directory


def corpus_key(texts: list[str], settings: BiLMSettings) -> str:
    """Hash of the training corpus (and the validation texts that set the reported perplexity) + settings."""
    keyed = settings.as_dict()
    if keyed["softmax"] == "sampled":  # the setting came after cached exports: its default keeps their keys
        del keyed["softmax"]
    digest = hashlib.sha256(json.dumps(["bilm", VERSION, keyed], sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def trained_bilm(
    texts: list[str],
    settings: BiLMSettings,
    *,
    validation_texts: list[str] | None = None,
    root: str | os.PathLike | None = None,
    log=None,
) -> tuple[Path, dict]:
    """The export directory of a biLM trained on ``texts`` (trained and exported first unless cached).

    The export lives at ``<root>/elmo-bilm-<hash of texts, validation texts and settings>/``, built in a
    temporary directory and renamed into place, so a killed run leaves no half-written model. ``root``
    defaults to the embedding cache's root; with the cache disabled it is a fresh temporary directory.
    Returns (directory, report as a dict).
    """
    key = corpus_key(list(texts) + ["\x1e"] + list(validation_texts or []), settings)
    if key in _TRAINED and (_TRAINED[key][0] / "saved_model.pb").is_file():
        return _TRAINED[key]
    root = _root(root)
    target = root / f"{EXPORT_PREFIX}{key[:24]}"
    root.mkdir(parents=True, exist_ok=True)
    # One trainer per biLM on this machine: a second process asking for the same one waits for the first
    # and then reads its export, instead of training it again on the same cores.
    with open(root / f".{target.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _train_and_export(key, target, texts, settings, validation_texts, log)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _root(root: str | os.PathLike | None) -> Path:
    from embeddings.cache import pretraining_cache

    if root is None:
        cache = pretraining_cache()
        root = cache.root if cache.enabled else tempfile.mkdtemp(prefix="pairbench-bilm-")
    return Path(root)


def is_trained(
    texts: list[str],
    settings: BiLMSettings,
    *,
    validation_texts: list[str] | None = None,
    root: str | os.PathLike | None = None,
) -> bool:
    """Whether ``trained_bilm`` with these arguments would read an export instead of training."""
    from embeddings.cache import pretraining_cache

    if root is None and not pretraining_cache().enabled:
        return False
    key = corpus_key(list(texts) + ["\x1e"] + list(validation_texts or []), settings)
    return (_root(root) / f"{EXPORT_PREFIX}{key[:24]}" / "saved_model.pb").is_file()


def _train_and_export(key: str, target: Path, texts, settings, validation_texts, log) -> tuple[Path, dict]:
    root = target.parent
    report_file = target / "bilm_report.json"
    if report_file.is_file() and (target / "saved_model.pb").is_file():
        _TRAINED[key] = target, json.loads(report_file.read_text(encoding="utf-8"))
        return _TRAINED[key]
    trained = train_bilm(texts, settings, validation_texts=validation_texts, log=log)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        trained.report.export_dir = str(target)
        export_bilm(trained, tmp / "model")
        try:
            os.rename(tmp / "model", target)  # atomic: readers see a whole export or none
        except OSError:  # another process exported the same biLM first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _TRAINED[key] = target, asdict(trained.report)
    return _TRAINED[key]


__all__ = [
    "BiLMSettings",
    "BiLMReport",
    "PRESETS",
    "TrainedBiLM",
    "train_bilm",
    "export_bilm",
    "trained_bilm",
    "is_trained",
    "corpus_key",
    "label_of",
    "vocabulary_of",
]
