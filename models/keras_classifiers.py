"""Keras 3 sequence classifiers: ``flatten-dense``, ``lstm``, ``bilstm``, ``gru``.

Each network is built by a short function that reads like its diagram. Inputs are either token ids (an
``Embedding`` learned here, or initialised from a backend's matrix, frozen or fine-tuned) or precomputed
token vectors. The recurrent encoders return the mean of their outputs over the document's real tokens
(padding masked), not their last state: a last state must carry a document's first tokens across the whole
window, and on weak frozen token vectors (spaCy's sm tensor, a small biLM) a forward GRU's last state scored
at chance where the same GRU read backwards, or averaged over time, learned (docs/backends.md, "How a network
trains"). Outputs: one sigmoid unit (binary), softmax (multiclass), one sigmoid per label with binary
cross-entropy (multi-label).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from models.registry import ClassifierSpec, register_classifier

SEQUENCE_KINDS = ("ids", "token_vectors")


class NumpyInit:
    """Keras' default initialisers (same distributions), drawn with NumPy.

    On the JAX backend every Keras initialiser is a small jitted program compiled for each new weight
    shape, costing about as much as compiling the training step, and nearly every trial has new shapes.
    NumPy arrays need no compilation.
    One instance per network; each weight gets its own seed from it in build order, so a seed gives the
    same network.
    """

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __call__(self, kind: str) -> "Drawn":
        return Drawn(kind, int(self.rng.integers(2**31)))


class Drawn:
    """One weight's initialiser (a Keras initialiser callable; ``get_config`` lets Bidirectional copy it)."""

    def __init__(self, kind: str, seed: int):
        if kind not in DRAWS:
            raise ValueError(f"unknown initialiser {kind!r}; expected one of {', '.join(DRAWS)}")
        self.kind, self.seed = kind, seed

    def __call__(self, shape, dtype=None):
        return DRAWS[self.kind](np.random.default_rng(self.seed), tuple(shape)).astype("float32")

    def get_config(self) -> dict:
        return {"kind": self.kind, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict) -> "Drawn":
        return cls(**config)


def _glorot_uniform(rng, shape):  # Dense, LSTM and GRU input kernels
    limit = np.sqrt(6.0 / (shape[0] + shape[-1]))
    return rng.uniform(-limit, limit, shape)


def _orthogonal(rng, shape):  # recurrent kernels: orthonormal along the shorter side
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    q, r = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return (q.T if rows < cols else q).reshape(shape)


def _lstm_bias(rng, shape):  # zeros, the forget gate's block at 1 (Keras' unit_forget_bias)
    bias = np.zeros(shape)
    bias[shape[0] // 4 : shape[0] // 2] = 1.0
    return bias


DRAWS = {
    "glorot_uniform": _glorot_uniform,
    "orthogonal": _orthogonal,
    "uniform": lambda rng, shape: rng.uniform(-0.05, 0.05, shape),  # Embedding's RandomUniform(-0.05, 0.05)
    "zeros": lambda rng, shape: np.zeros(shape),
    "ones": lambda rng, shape: np.ones(shape),
    "lstm_bias": _lstm_bias,
}


def _dense(keras, init: NumpyInit, units: int, activation: str):
    return keras.layers.Dense(
        units, activation=activation, kernel_initializer=init("glorot_uniform"), bias_initializer=init("zeros")
    )


def _embedding(keras, init: NumpyInit, vocab_size: int, width: int, **kwargs):
    return keras.layers.Embedding(vocab_size, width, embeddings_initializer=init("uniform"), **kwargs)


def _encoder_input(keras, init: NumpyInit, features, params: dict, masked: bool):
    """Input tensor and the per-token vectors it yields (masked where padding must be ignored)."""
    layers = keras.layers
    if features.kind == "ids":
        inputs = keras.Input(shape=(features.train.shape[1],), dtype="int32", name="token_ids")
        width = (
            features.embedding_matrix.shape[1]
            if features.embedding_matrix is not None
            else params.get("embedding_dim", 128)
        )
        embedding = _embedding(
            keras, init, features.vocab_size, width, mask_zero=masked, trainable=features.trainable, name="embedding"
        )
        return inputs, embedding(inputs)
    inputs = keras.Input(shape=features.train.shape[1:], dtype="float32", name="token_vectors")
    return inputs, (layers.Masking(0.0)(inputs) if masked else inputs)


def flatten_dense(keras, init, x, units):
    return keras.layers.Flatten()(x)


def _lstm_layer(keras, init, units, **kwargs):
    return keras.layers.LSTM(
        units,
        kernel_initializer=init("glorot_uniform"),
        recurrent_initializer=init("orthogonal"),
        bias_initializer=init("lstm_bias"),
        unit_forget_bias=False,
        **kwargs,
    )


def _mean_over_tokens(keras, outputs):
    """The mean of a recurrent layer's outputs over the real tokens (the mask the layer passes on); zeros for a
    document without one (every token padding or out of vocabulary), where Keras' ``GlobalAveragePooling1D``
    divides by zero."""
    return _masked_mean_layer(keras)()(outputs)


@functools.cache
def _masked_mean_layer(keras):
    ops = keras.ops

    class MaskedMean(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            if mask is None:
                return ops.mean(inputs, axis=1)
            weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
            return ops.sum(inputs * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

        def compute_mask(self, inputs, mask=None):
            return None

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[2])

    return MaskedMean


def lstm(keras, init, x, units):
    return _mean_over_tokens(keras, _lstm_layer(keras, init, units, return_sequences=True)(x))


def bilstm(keras, init, x, units):
    # The backward layer is given, not cloned from the forward one's config, so it draws its own weights.
    with keras.saving.custom_object_scope({"Drawn": Drawn}):  # Bidirectional rebuilds its layers from config
        outputs = keras.layers.Bidirectional(
            _lstm_layer(keras, init, units, return_sequences=True),
            backward_layer=_lstm_layer(keras, init, units, go_backwards=True, return_sequences=True),
        )(x)
    return _mean_over_tokens(keras, outputs)


def gru(keras, init, x, units):
    layer = keras.layers.GRU(
        units,
        kernel_initializer=init("glorot_uniform"),
        recurrent_initializer=init("orthogonal"),
        bias_initializer=init("zeros"),
        return_sequences=True,
    )
    return _mean_over_tokens(keras, layer(x))


ENCODERS = {"flatten-dense": flatten_dense, "lstm": lstm, "bilstm": bilstm, "gru": gru}
TWO_INPUTS = ("title", "body")  # the separate-encoder variant's inputs (``Features.train`` is then a dict)


def _one_input(keras, init: NumpyInit, architecture: str, features, p: dict):
    """Embedding -> encoder -> Dense (relu) -> Dropout."""
    inputs, x = _encoder_input(keras, init, features, p, masked=architecture != "flatten-dense")
    x = ENCODERS[architecture](keras, init, x, p.get("units"))
    x = _dense(keras, init, p["dense_units"], "relu")(x)
    return inputs, keras.layers.Dropout(p.get("dropout", 0.0))(x)


def _title_and_body(keras, init: NumpyInit, architecture: str, features, p: dict):
    """Title and body each on its own Embedding and encoder, concatenated -> Dense (relu) -> Dropout ->
    BatchNorm -> Dense (relu): the multi-label title+body notebook's network."""
    inputs, encoded = {}, []
    for field in TWO_INPUTS:
        inputs[field] = keras.Input(shape=(features.train[field].shape[1],), dtype="int32", name=field)
        x = _embedding(
            keras,
            init,
            features.vocab_size,
            p.get("embedding_dim", 128),
            name=f"{field}_embedding",
            mask_zero=architecture != "flatten-dense",
        )(inputs[field])
        encoded.append(ENCODERS[architecture](keras, init, x, p.get(f"{field}_units")))
    x = keras.layers.Concatenate()(encoded)
    x = _dense(keras, init, p["head_units"], "relu")(x)
    x = keras.layers.Dropout(p.get("dropout", 0.0))(x)
    x = keras.layers.BatchNormalization(
        beta_initializer=init("zeros"),
        gamma_initializer=init("ones"),
        moving_mean_initializer=init("zeros"),
        moving_variance_initializer=init("ones"),
    )(x)
    return inputs, _dense(keras, init, p["head2_units"], "relu")(x)


def build_network(
    architecture: str,
    features,
    task_type: str,
    n_outputs: int,
    params: dict,
    seed: int = 0,
    output_bias: np.ndarray | None = None,
):
    """A compiled Keras model: input(s) -> encoder(s) -> dense head -> task output; ``seed`` draws the weights.

    ``output_bias`` (see ``prior_bias``) starts the output layer at the training label priors."""
    import keras

    init = NumpyInit(seed)
    two = isinstance(features.train, dict)
    inputs, x = (_title_and_body if two else _one_input)(keras, init, architecture, features, params)
    if task_type == "multiclass":
        outputs, loss = _dense(keras, init, n_outputs, "softmax")(x), "sparse_categorical_crossentropy"
    else:
        units = 1 if task_type == "binary" else n_outputs
        outputs, loss = _dense(keras, init, units, "sigmoid")(x), "binary_crossentropy"
    model = keras.Model(inputs, outputs, name=architecture)
    if output_bias is not None:
        kernel, _ = model.layers[-1].get_weights()
        model.layers[-1].set_weights([kernel, np.asarray(output_bias, dtype="float32").reshape(-1)])
    if features.kind == "ids" and features.embedding_matrix is not None:
        matrix = features.embedding_matrix if features.trainable else standardised_matrix(features)
        model.get_layer("embedding").set_weights([matrix.astype("float32")])
    model.compile(optimizer=keras.optimizers.Adam(params.get("learning_rate", 1e-3)), loss=loss)
    return model


class KerasClassifier:
    """A Keras network trained epoch by epoch, judged on the validation split after each epoch.

    params (the values ``search_space`` below tries are the recommended ones): ``units`` (recurrent width; 32, 64
    or 128), ``dense_units`` (16, 32 or 64), ``dropout`` (0-0.5), ``learning_rate`` (Adam; 3e-4-1e-2, log scale),
    ``batch_size`` (32, 64 or 128), ``epochs`` (a safety cap), ``patience`` (epochs without a better validation
    signal before stopping; recommended 3), ``min_delta`` (how much an epoch must raise the best validation
    signal to count as better; recommended 1e-3 for F1 scores). With title and body inputs: ``title_units`` (64,
    128 or 300), ``body_units`` (64, 128 or 200), ``head_units`` (100, 200 or 400), ``head2_units`` (50 or 150)
    instead of ``units`` and ``dense_units``, and ``batch_size`` 64, 128 or 256.

    Token-vector inputs, and a frozen embedding matrix (``standardised_matrix``), are standardised per
    dimension with the training split's mean and standard deviation over real (non-padding) tokens; padding
    stays exactly zero, so it is still masked. A fine-tuned matrix starts from the vectors as they are.
    After ``fit``: ``epochs_run``, ``best_epoch`` (0-based, restored) and ``stopped_by`` ("patience", "cap", or
    "steps": ``params["train_steps"]`` under ``stopping="steps"`` trains exactly that many optimiser steps with
    no validation check and keeps the last step's weights, as a budget allocation's final repeats do).
    """

    def __init__(self, architecture: str, params: dict):
        self.architecture, self.params = architecture, params
        self.n_params = 0
        self.epochs_run = 0
        self.best_epoch = -1
        self.stopped_by = ""
        self.stopping: dict = {}  # stopping="steps": check_every, steps, checks, best_check, best_step
        self.scaling = None  # (mean, std) of the training split's token vectors

    def fit(self, features, y_train, y_val, *, task_type, n_outputs, score_fn, on_epoch=None, seed=0):
        """``score_fn(y_val, scores)`` is the validation signal of each check (higher is better; the runner passes
        the main metric at a threshold tuned for that check): it picks the check to restore and decides when to
        stop. ``on_epoch(check, score)`` is called after each check (0-based), epoch or every k steps as
        ``params["stopping"]`` says (see ``StepRule``)."""
        import keras

        keras.utils.set_random_seed(seed)
        self.task_type = task_type
        if features.kind == "token_vectors":
            self.scaling = token_statistics(features.train)
        # The training rows are scaled as each check interval's batches are taken (``ScaledRows``), the same values
        # as scaling the whole split first, without holding a float32 copy of it beside the features.
        x_train = ScaledRows(features.train, *self.scaling) if self.scaling is not None else features.train
        x_val = self._scaled(features.validation)
        self.model = build_network(
            self.architecture,
            features,
            task_type,
            n_outputs,
            self.params,
            seed=seed,
            output_bias=prior_bias(task_type, y_train, n_outputs),
        )
        self.n_params = int(self.model.count_params())
        y_fit = y_train.astype("float32") if task_type != "multiclass" else y_train
        rng = np.random.default_rng(seed)
        judge = _BestCheck(self, x_val, y_val, score_fn, on_epoch, self.params.get("min_delta", 0.0))
        if self.params.get("stopping", "epochs") == "steps":
            self._fit_by_steps(x_train, y_fit, rng, judge)
        else:
            self._fit_by_epochs(x_train, y_fit, rng, judge)
        if judge.weights is not None:  # early stopping restores the best check (a fixed step count has none)
            self.model.set_weights(judge.weights)
        return self

    def _fit_by_epochs(self, x_train, y_fit, rng: np.random.Generator, judge: _BestCheck) -> None:
        """One check per epoch; ``patience`` epochs without a better check stop the fit."""
        batch_size = self.params.get("batch_size", 64)
        patience = self.params.get("patience", 3)
        self.stopped_by = "cap"
        for epoch in range(self.params.get("epochs", 30)):
            # Whole batches only: a last, smaller batch has another shape, and JAX (like tf.function) compiles
            # the training step again for it. Each epoch drops a different random remainder (< one batch),
            # so every document is trained on across epochs.
            order = _epoch_order(rng, len(y_fit), batch_size)
            self._train_rows(x_train, y_fit, order, batch_size, f"epoch {epoch + 1}")
            self.epochs_run = epoch + 1
            if judge.check(epoch, epoch):
                self.best_epoch = epoch
            if judge.waited >= patience:
                self.stopped_by = "patience"
                break

    def _fit_by_steps(self, x_train, y_fit, rng: np.random.Generator, judge: _BestCheck) -> None:
        """A check every ``k`` optimiser steps (``StepRule``); patience counted in checks, after ``min_steps``."""
        rule = StepRule.from_params(self.params)
        batch_size = min(self.params.get("batch_size", 64), len(y_fit))
        per_epoch = max(1, len(y_fit) // batch_size)
        every = rule.check_every(per_epoch)
        fixed = self.params.get("train_steps")
        cap = int(fixed) if fixed else rule.step_cap(self.params.get("epochs", 30), per_epoch)
        stream = _BatchStream(rng, len(y_fit), batch_size)
        steps, best_step = 0, 0
        self.stopped_by = "steps" if fixed else "cap"
        while steps < cap:
            n = min(every, cap - steps)
            self._train_rows(x_train, y_fit, stream.take(n), batch_size, f"step {steps + n}")
            steps += n
            if fixed:  # a fixed step count: no check, the last step's weights are the result
                best_step = steps
                continue
            if judge.check(judge.checks, steps):
                best_step = steps
            if judge.waited >= rule.patience_checks and steps >= rule.min_steps:
                self.stopped_by = "patience"
                break
        self.epochs_run = -(-steps // per_epoch)
        self.best_epoch = max(0, -(-best_step // per_epoch) - 1)
        self.stopping = {
            "rule": "steps",
            "check_every": every,
            "steps_per_epoch": per_epoch,
            "steps": steps,
            "checks": judge.checks,
            "best_check": judge.best_check,
            "best_step": best_step,
        }

    def _train_rows(self, x_train, y_fit, rows: np.ndarray, batch_size: int, where: str) -> None:
        """One pass of ``model.fit`` over ``rows`` in order (whole batches), failing on a non-finite loss.
        Token vectors (``ScaledRows``) are scaled a batch at a time as the pass takes them: a check interval of
        MiniLM rows is 0.4 GB at float32. The same batches in the same order train the same network."""
        if isinstance(x_train, ScaledRows):
            parts = np.split(rows, range(batch_size, len(rows), batch_size))
            batches = ((x_train[b], y_fit[b]) for b in parts)
            history = self.model.fit(batches, steps_per_epoch=len(parts), epochs=1, verbose=0, shuffle=False)
        else:
            history = self.model.fit(
                _take(x_train, rows), y_fit[rows], batch_size=batch_size, epochs=1, verbose=0, shuffle=False
            )
        loss = float(history.history["loss"][-1])
        if not np.isfinite(loss):
            raise FloatingPointError(f"{self.architecture}: training loss became {loss} at {where}")

    def _scaled(self, x):
        """The whole of ``x`` scaled (validation and test): every row through ``ScaledRows``."""
        return x if self.scaling is None else ScaledRows(x, *self.scaling)[np.arange(len(x))]

    def predict_scores(self, x) -> np.ndarray:
        # Token vectors are scaled as each group of batches is predicted: a 5,000-document test split of
        # MiniLM vectors is 2 GB at float32, which no process needs to hold at once.
        return self._predict(x if self.scaling is None else ScaledRows(x, *self.scaling))

    def _predict(self, x) -> np.ndarray:
        # One batch shape for every split, so one compiled prediction step per network: rows are padded to
        # whole batches of the same size (a smaller last batch, or another split's size, compiles again).
        # The size is the split's row count rounded up to a power of two, at most PREDICT_ROWS: 500
        # validation and 1,000 test documents share 512-row batches, with little padding to compute.
        # Rows are taken (and padded) a group of whole batches at a time, at most PREDICT_GROUP_BYTES: the
        # batches are the same whatever the grouping, so the scores are too.
        arrays = list(x.values()) if isinstance(x, dict) else [x]
        n = len(arrays[0])
        row_bytes = sum(4 * int(np.prod(a.shape[1:])) for a in arrays)
        fits = max(64, min(PREDICT_ROWS, PREDICT_BYTES // max(row_bytes, 1)))
        batch = min(fits, max(64, 1 << max(n - 1, 0).bit_length()))
        group = batch * max(1, PREDICT_GROUP_BYTES // max(batch * row_bytes, 1))
        parts = []
        for start in range(0, n, group):
            rows = np.arange(start, min(start + group, n))
            padded = _pad_rows(_take(x, rows), -len(rows) % batch)
            parts.append(self.model.predict(padded, batch_size=batch, verbose=0)[: len(rows)])
        scores = np.concatenate(parts)
        return scores.ravel() if self.task_type == "binary" else scores


@dataclass(frozen=True)
class StepRule:
    """When a fit under ``stopping="steps"`` checks validation and when it stops, in optimiser steps.

    A check comes every ``k = clamp(round(steps_per_epoch / checks_per_epoch), min_check_steps, max_check_steps)``
    steps: about twice an epoch at the standard profile's 2,000 documents (k = 31, 16, 8 with batches of 32,
    64, 128), every 8 steps at 250 documents (1 to 8 epochs by batch size), every 64 steps (about 10 checks
    an epoch) at 40,000 documents with batches of 64: no validation pass every handful of steps, no
    thousands of steps between two checks.
    ``patience_checks`` checks without a better signal stop the fit, but not before ``min_steps`` steps;
    the epoch cap stays a safety cap, ``max_epochs x steps_per_epoch`` steps (never below
    ``min_steps``). Recommended: 2 checks an epoch, k in [8, 64], patience 4 checks, 100 steps.
    """

    checks_per_epoch: float = 2.0
    min_check_steps: int = 8
    max_check_steps: int = 64
    patience_checks: int = 4
    min_steps: int = 100

    KEYS = ("checks_per_epoch", "min_check_steps", "max_check_steps", "patience_checks", "min_steps")

    @classmethod
    def from_params(cls, params: dict) -> StepRule:
        return cls(**{k: params[k] for k in cls.KEYS if k in params})

    def check_every(self, steps_per_epoch: int) -> int:
        """Steps between two validation checks for a fit of ``steps_per_epoch`` whole batches an epoch."""
        k = round(steps_per_epoch / self.checks_per_epoch)
        return int(min(self.max_check_steps, max(self.min_check_steps, k)))

    def step_cap(self, max_epochs: int, steps_per_epoch: int) -> int:
        """The safety cap in steps: the epoch cap's steps, but room for ``min_steps`` at least."""
        return max(max_epochs * steps_per_epoch, self.min_steps)


class _BestCheck:
    """Scores validation at each check, keeps the best check's weights and counts checks since it."""

    def __init__(self, owner: KerasClassifier, x_val, y_val, score_fn, on_check, min_delta: float):
        self.owner, self.x_val, self.y_val, self.score_fn = owner, x_val, y_val, score_fn
        self.on_check, self.min_delta = on_check, min_delta
        self.best, self.weights, self.waited, self.checks, self.best_check = -np.inf, None, 0, 0, -1

    def check(self, index: int, position: int) -> bool:
        """Score the model now (check ``index``; ``position`` is its epoch or step, for errors); True if best."""
        score = self.score_fn(self.y_val, self.owner._predict(self.x_val))
        unit = "step" if self.owner.params.get("stopping") == "steps" else "epoch"
        if not np.isfinite(score):
            raise FloatingPointError(
                f"{self.owner.architecture}: validation signal became {score} at {unit} {position + (unit == 'epoch')}"
            )
        improved = self.weights is None or score > self.best + self.min_delta
        if improved:
            self.best, self.weights, self.waited, self.best_check = score, self.owner.model.get_weights(), 0, index
        else:
            self.waited += 1
        self.checks += 1
        if self.on_check is not None:
            self.on_check(index, score)
        return improved


class _BatchStream:
    """Training rows in whole batches, epoch after epoch, each epoch shuffled (``_epoch_order``)."""

    def __init__(self, rng: np.random.Generator, n: int, batch_size: int):
        self.rng, self.n, self.batch_size = rng, n, batch_size
        self.pending = np.zeros(0, dtype=np.int64)

    def take(self, steps: int) -> np.ndarray:
        """The rows of the next ``steps`` batches."""
        want = steps * min(self.batch_size, self.n)
        while len(self.pending) < want:
            self.pending = np.concatenate([self.pending, _epoch_order(self.rng, self.n, self.batch_size)])
        rows, self.pending = self.pending[:want], self.pending[want:]
        return rows


def prior_bias(task_type: str, y_train: np.ndarray, n_outputs: int) -> np.ndarray:
    """Output biases at which an untrained network predicts the training label priors: log-odds of each
    label (sigmoid outputs) or log-frequencies of the classes (softmax). With zero biases every sigmoid
    starts at 0.5, and a multi-label network whose tags have priors of 0.01-0.2 spends its first epochs
    learning only to say "no" before its features learn anything."""
    if task_type == "multiclass":
        prior = np.bincount(np.asarray(y_train), minlength=n_outputs) / max(1, len(y_train))
        return np.log(np.clip(prior, 1e-4, 1.0))
    prior = np.clip(np.asarray(y_train, dtype=np.float64).reshape(len(y_train), -1).mean(axis=0), 1e-4, 1 - 1e-4)
    return np.log(prior / (1 - prior))


CHUNK_BYTES = 64 * 2**20  # token-vector arrays are scaled and summarised this many bytes (float32) at a time


def _row_chunks(n: int, shape: tuple) -> list[slice]:
    """Slices of ``n`` rows of an array of ``shape``, each about ``CHUNK_BYTES`` as float32."""
    per_row = 4 * int(np.prod(shape[1:]))
    step = max(1, CHUNK_BYTES // max(per_row, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def scale_token_vectors(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Token vectors standardised per dimension at float32 (the cast from float16 is exact); padding, all-zero
    vectors, stays zero."""
    part = np.asarray(x, dtype=np.float32)
    return np.where(np.any(part != 0, axis=-1, keepdims=True), (part - mean) / std, np.float32(0.0))


class ScaledRows:
    """A token-vector array read through ``scale_token_vectors``: ``rows[index]`` is the scaled rows, computed
    when asked (the training loop asks for one check interval's batches at a time)."""

    def __init__(self, x: np.ndarray, mean: np.ndarray, std: np.ndarray):
        self.x, self.mean, self.std = x, mean, std
        self.shape = x.shape

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        """The scaled rows at the indices ``rows``, filled a chunk at a time (no full-size temporaries)."""
        out = np.empty((len(rows), *self.shape[1:]), np.float32)
        for chunk in _row_chunks(len(rows), self.shape):
            out[chunk] = scale_token_vectors(self.x[rows[chunk]], self.mean, self.std)
        return out


def token_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation of the real (not all-zero padding) token vectors of a
    (docs, length, width) array; a constant dimension gets standard deviation 1. Two passes over chunks of
    documents (the mean, then the squared deviations from it), in float64: an array of a few gigabytes
    needs no full-size copy."""
    width = x.shape[-1]

    def real_tokens(rows: slice) -> np.ndarray:
        flat = np.asarray(x[rows], dtype=np.float32).reshape(-1, width)
        return flat[np.any(flat != 0, axis=1)]

    chunks = _row_chunks(len(x), x.shape)
    count, total = 0, np.zeros(width, np.float64)
    for rows in chunks:
        real = real_tokens(rows)
        count += len(real)
        total += real.sum(axis=0, dtype=np.float64)
    if not count:
        return np.zeros(width, np.float32), np.ones(width, np.float32)
    mean = total / count
    squares = np.zeros(width, np.float64)
    for rows in chunks:
        squares += ((real_tokens(rows).astype(np.float64) - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / count)
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def standardised_matrix(features) -> np.ndarray:
    """A frozen embedding matrix standardised per dimension with the mean and standard deviation of the
    vectors of the training split's tokens (each occurrence counts; padding and OOV, ids 0 and 1, left out
    and kept zero): a frozen matrix is a token-vector input like any other. Vectors trained on a small
    corpus share one direction, which unscaled inputs leave a network unable to learn past
    (docs/backends.md, "How a network trains")."""
    matrix = np.asarray(features.embedding_matrix, dtype=np.float64)
    counts = np.bincount(np.asarray(features.train).ravel(), minlength=len(matrix)).astype(np.float64)
    counts[:2] = 0
    if counts.sum() == 0:
        return features.embedding_matrix
    mean = counts @ matrix / counts.sum()
    std = np.sqrt(counts @ (matrix - mean) ** 2 / counts.sum())
    out = (matrix - mean) / np.where(std > 1e-6, std, 1.0)
    out[:2] = 0.0
    return out.astype(np.float32)


PREDICT_ROWS = 512  # rows per prediction batch: a 500-document validation split is one batch, 1,000 test rows two
PREDICT_BYTES = 128 * 2**20  # at most this much input a batch: ~330 rows of 100 x 1,024 ELMo vectors
PREDICT_GROUP_BYTES = 128 * 2**20  # at most this much float32 input is taken (scaled, padded) for one predict call


def _pad_rows(x, extra: int):
    """``x`` with ``extra`` rows of zeros appended (padding ids / zero vectors, masked like any padding)."""
    if not extra:
        return x
    pad = lambda a: np.concatenate([a, np.zeros((extra, *a.shape[1:]), dtype=a.dtype)])  # noqa: E731
    return {k: pad(v) for k, v in x.items()} if isinstance(x, dict) else pad(x)


def _epoch_order(rng: np.random.Generator, n: int, batch_size: int) -> np.ndarray:
    """A shuffled order of the training rows, cut to whole batches (all rows when there are fewer than one)."""
    order = rng.permutation(n)
    return order if n <= batch_size else order[: n - n % batch_size]


def _take(x, rows: np.ndarray):
    return {k: v[rows] for k, v in x.items()} if isinstance(x, dict) else x[rows]


def search_space(architecture: str, trial, profile, two_inputs: bool) -> dict:
    """The network's widths, dropout, learning rate and batch size; epochs cap, min_delta and the stopping rule
    (patience in epochs, or ``StepRule``'s settings) from the profile. ``two_inputs``: the title+body network,
    an encoder per field and a two-layer head."""
    params = {
        "dense_units": trial.suggest_categorical("dense_units", [16, 32, 64]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        "epochs": profile.max_epochs,
        "patience": profile.patience,
        "min_delta": profile.min_delta,
    }
    if profile.stopping == "steps":  # patience in checks instead (``StepRule``); epochs stays the safety cap
        del params["patience"]
        params.update({"stopping": "steps", **profile.step_rule})
    if two_inputs:  # own parameter names: own ranges
        del params["dense_units"], params["batch_size"]
        params["head_units"] = trial.suggest_categorical("head_units", [100, 200, 400])
        params["head2_units"] = trial.suggest_categorical("head2_units", [50, 150])
        params["batch_size"] = trial.suggest_categorical("batch_size_title_body", [64, 128, 256])
        if architecture != "flatten-dense":
            params["title_units"] = trial.suggest_categorical("title_units", [64, 128, 300])
            params["body_units"] = trial.suggest_categorical("body_units", [64, 128, 200])
    elif architecture != "flatten-dense":
        params["units"] = trial.suggest_categorical("units", [32, 64, 128])
    return params


for _name, _doc in [
    ("flatten-dense", "Embedding, Flatten, Dense (relu), output"),
    ("lstm", "Embedding, LSTM, mean over tokens, Dense (relu), output"),
    ("bilstm", "Embedding, bidirectional LSTM, mean over tokens, Dense (relu), output"),
    ("gru", "Embedding, GRU, mean over tokens, Dense (relu), output"),
]:
    register_classifier(
        ClassifierSpec(
            _name,
            SEQUENCE_KINDS,
            functools.partial(KerasClassifier, _name),
            f"Keras 3: {_doc}",
            search_space=functools.partial(search_space, _name),
        )
    )
