"""Keras 3 sequence classifiers: ``flatten-dense``, ``lstm``, ``bilstm``, ``gru``.

Each network is built by a short function that reads like its diagram. Inputs are either token ids (an
``Embedding`` learned here, or initialised from a backend's matrix, frozen or fine-tuned) or precomputed
token vectors. Outputs: one sigmoid unit (binary), softmax (multiclass), one sigmoid per label with
binary cross-entropy (multi-label).
"""

from __future__ import annotations

import numpy as np

from models.registry import ClassifierSpec, register_classifier

SEQUENCE_KINDS = ("ids", "token_vectors")


def _encoder_input(keras, features, params: dict, masked: bool):
    """Input tensor and the per-token vectors it yields (masked where padding must be ignored)."""
    layers = keras.layers
    if features.kind == "ids":
        inputs = keras.Input(shape=(features.train.shape[1],), dtype="int32", name="token_ids")
        width = (features.embedding_matrix.shape[1] if features.embedding_matrix is not None
                 else params.get("embedding_dim", 128))
        embedding = layers.Embedding(features.vocab_size, width, mask_zero=masked,
                                     trainable=features.trainable, name="embedding")
        return inputs, embedding(inputs)
    inputs = keras.Input(shape=features.train.shape[1:], dtype="float32", name="token_vectors")
    return inputs, (layers.Masking(0.0)(inputs) if masked else inputs)


def flatten_dense(keras, x, units):
    return keras.layers.Flatten()(x)


def lstm(keras, x, units):
    return keras.layers.LSTM(units)(x)


def bilstm(keras, x, units):
    return keras.layers.Bidirectional(keras.layers.LSTM(units))(x)


def gru(keras, x, units):
    return keras.layers.GRU(units)(x)


ENCODERS = {"flatten-dense": flatten_dense, "lstm": lstm, "bilstm": bilstm, "gru": gru}
TWO_INPUTS = ("title", "body")  # the separate-encoder variant's inputs (``Features.train`` is then a dict)


def _one_input(keras, architecture: str, features, p: dict):
    """Embedding -> encoder -> Dense (relu) -> Dropout."""
    inputs, x = _encoder_input(keras, features, p, masked=architecture != "flatten-dense")
    x = ENCODERS[architecture](keras, x, p.get("units"))
    x = keras.layers.Dense(p["dense_units"], activation="relu")(x)
    return inputs, keras.layers.Dropout(p.get("dropout", 0.0))(x)


def _title_and_body(keras, architecture: str, features, p: dict):
    """Title and body each on its own Embedding and encoder, concatenated -> Dense (relu) -> Dropout ->
    BatchNorm -> Dense (relu): the multi-label title+body notebook's network."""
    inputs, encoded = {}, []
    for field in TWO_INPUTS:
        inputs[field] = keras.Input(shape=(features.train[field].shape[1],), dtype="int32", name=field)
        x = keras.layers.Embedding(features.vocab_size, p.get("embedding_dim", 128), name=f"{field}_embedding",
                                   mask_zero=architecture != "flatten-dense")(inputs[field])
        encoded.append(ENCODERS[architecture](keras, x, p.get(f"{field}_units")))
    x = keras.layers.Concatenate()(encoded)
    x = keras.layers.Dense(p["head_units"], activation="relu")(x)
    x = keras.layers.Dropout(p.get("dropout", 0.0))(x)
    x = keras.layers.BatchNormalization()(x)
    return inputs, keras.layers.Dense(p["head2_units"], activation="relu")(x)


def build_network(architecture: str, features, task_type: str, n_outputs: int, params: dict):
    """A compiled Keras model: input(s) -> encoder(s) -> dense head -> task output."""
    import keras

    two = isinstance(features.train, dict)
    inputs, x = (_title_and_body if two else _one_input)(keras, architecture, features, params)
    if task_type == "multiclass":
        outputs, loss = keras.layers.Dense(n_outputs, activation="softmax")(x), "sparse_categorical_crossentropy"
    else:
        units = 1 if task_type == "binary" else n_outputs
        outputs, loss = keras.layers.Dense(units, activation="sigmoid")(x), "binary_crossentropy"
    model = keras.Model(inputs, outputs, name=architecture)
    if features.kind == "ids" and features.embedding_matrix is not None:
        model.get_layer("embedding").set_weights([features.embedding_matrix.astype("float32")])
    model.compile(optimizer=keras.optimizers.Adam(params.get("learning_rate", 1e-3)), loss=loss)
    return model


class KerasClassifier:
    """A Keras network trained epoch by epoch, scored on validation after each epoch.

    params (see ``bench.search_spaces`` for the searched ranges): ``units`` (recurrent width, 32-128),
    ``dense_units`` (16-128), ``dropout`` (0-0.5), ``learning_rate`` (1e-4-1e-2, Adam), ``batch_size``
    (32-256), ``epochs`` (cap), ``patience`` (epochs without a better validation score before stopping).
    With title and body inputs: ``title_units``, ``body_units``, ``head_units``, ``head2_units`` instead
    of ``units`` and ``dense_units``.
    """

    def __init__(self, architecture: str, params: dict):
        self.architecture, self.params = architecture, params
        self.n_params = 0
        self.epochs_run = 0
        self.best_epoch = -1

    def fit(self, features, y_train, y_val, *, task_type, n_outputs, score_fn, on_epoch=None, seed=0):
        import keras

        keras.utils.set_random_seed(seed)
        self.task_type = task_type
        self.model = build_network(self.architecture, features, task_type, n_outputs, self.params)
        self.n_params = int(self.model.count_params())
        best, best_weights, waited = -np.inf, None, 0
        y_fit = y_train.astype("float32") if task_type != "multiclass" else y_train
        batch_size = self.params.get("batch_size", 64)
        rng = np.random.default_rng(seed)
        for epoch in range(self.params.get("epochs", 5)):
            # Whole batches only: a last, smaller batch has another shape, and JAX (like tf.function) compiles
            # the training step again for it (about 1-3 s per fit, measured). Each epoch drops a different
            # random remainder (< one batch), so every document is trained on across epochs.
            order = _epoch_order(rng, len(y_fit), batch_size)
            history = self.model.fit(_take(features.train, order), y_fit[order], batch_size=batch_size, epochs=1,
                                     verbose=0, shuffle=False)
            self.epochs_run = epoch + 1
            loss = float(history.history["loss"][-1])
            if not np.isfinite(loss):
                raise FloatingPointError(f"{self.architecture}: training loss became {loss} at epoch {epoch + 1}")
            score = score_fn(y_val, self.predict_scores(features.validation))
            if score > best:
                best, best_weights, waited, self.best_epoch = score, self.model.get_weights(), 0, epoch
            else:
                waited += 1
            if on_epoch is not None:
                on_epoch(epoch, score)
            if waited >= self.params.get("patience", 2):
                break
        if best_weights is not None:
            self.model.set_weights(best_weights)  # early stopping restores the best epoch
        return self

    def predict_scores(self, x) -> np.ndarray:
        scores = self.model.predict(x, batch_size=512, verbose=0)
        return scores.ravel() if self.task_type == "binary" else scores


def _epoch_order(rng: np.random.Generator, n: int, batch_size: int) -> np.ndarray:
    """A shuffled order of the training rows, cut to whole batches (all rows when there are fewer than one)."""
    order = rng.permutation(n)
    return order if n <= batch_size else order[: n - n % batch_size]


def _take(x, rows: np.ndarray):
    return {k: v[rows] for k, v in x.items()} if isinstance(x, dict) else x[rows]


for _name, _doc in [("flatten-dense", "Embedding, Flatten, Dense (relu), output"),
                    ("lstm", "Embedding, LSTM, Dense (relu), output"),
                    ("bilstm", "Embedding, bidirectional LSTM, Dense (relu), output"),
                    ("gru", "Embedding, GRU, Dense (relu), output")]:
    register_classifier(ClassifierSpec(_name, SEQUENCE_KINDS, lambda params, a=_name: KerasClassifier(a, params),
                                       f"Keras 3: {_doc}"))
