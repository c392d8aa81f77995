"""A BERT encoder in Keras 3 (any backend), built from a Transformers checkpoint's weights, for inference only.

The architecture is the original BERT's: word + position + token-type embeddings, layer norm, then
``layers`` post-layer-norm transformer blocks (multi-head self-attention over the unmasked tokens, residual,
layer norm; a GELU feed-forward layer, residual, layer norm). No dropout, nothing trainable: the encoder is a
frozen feature extractor. ``build_encoder(config, weights)`` returns a ``keras.Model`` mapping
``(token_ids, attention_mask)``, both (batch, length), to the last hidden layer (batch, length, hidden).
"""

from __future__ import annotations  # noqa: I001  (models must load before keras: it picks the Keras backend)

from typing import TYPE_CHECKING

import numpy as np

import models  # noqa: F401  (decides KERAS_BACKEND before Keras is first imported)
import keras
from keras import ops

if TYPE_CHECKING:
    from embeddings.sentence_encoder import BertConfig

MASKED = -1e9  # added to the attention score of a padding key: its softmax weight is exactly 0


def _fixed(array: np.ndarray):
    """A Keras initialiser that yields ``array`` (the checkpoint's value) for a weight of its shape."""
    value = np.asarray(array, dtype=np.float32)

    def initializer(shape, dtype=None):
        if tuple(shape) != value.shape:
            raise ValueError(f"weight of shape {tuple(shape)} initialised from an array of shape {value.shape}")
        return value

    return initializer


class BertEmbeddings(keras.layers.Layer):
    """Word, position and (all-zero) token-type embeddings, summed and layer-normalised."""

    def __init__(self, config: BertConfig, weights: dict[str, np.ndarray], **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.word = self.add_weight(shape=weights["word"].shape, initializer=_fixed(weights["word"]), name="word")
        # Every document is one segment (type 0): its embedding joins the positions' as one table.
        positions = weights["position"] + weights["token_type"][0]
        self.position = self.add_weight(shape=positions.shape, initializer=_fixed(positions), name="position")
        self.norm = _layer_norm(config, weights["norm_gamma"], weights["norm_beta"])

    def call(self, token_ids):
        length = ops.shape(token_ids)[1]
        return self.norm(ops.take(self.word, token_ids, axis=0) + self.position[None, :length])


class BertBlock(keras.layers.Layer):
    """One post-layer-norm transformer block: self-attention then the GELU feed-forward layer."""

    def __init__(self, config: BertConfig, weights: dict[str, np.ndarray], **kwargs):
        super().__init__(trainable=False, **kwargs)
        n, d = config.heads, config.hidden // config.heads
        self.scale, self.approximate = 1.0 / float(np.sqrt(d)), config.approximate_gelu
        add = lambda name, array: self.add_weight(shape=array.shape, initializer=_fixed(array), name=name)  # noqa: E731
        # Checkpoint Linear weights are (out, in); heads split the output side: (in, heads, head width).
        for part in ("query", "key", "value"):
            setattr(self, f"w_{part}", add(f"w_{part}", weights[part].T.reshape(config.hidden, n, d)))
            setattr(self, f"b_{part}", add(f"b_{part}", weights[f"{part}_bias"].reshape(n, 1, d)))
        self.w_out = add("w_out", weights["attention_out"].T.reshape(n, d, config.hidden))
        self.b_out = add("b_out", weights["attention_out_bias"])
        self.w_up, self.b_up = add("w_up", weights["up"].T), add("b_up", weights["up_bias"])
        self.w_down, self.b_down = add("w_down", weights["down"].T), add("b_down", weights["down_bias"])
        self.attention_norm = _layer_norm(config, weights["attention_norm_gamma"], weights["attention_norm_beta"])
        self.output_norm = _layer_norm(config, weights["output_norm_gamma"], weights["output_norm_beta"])

    def call(self, x, key_bias):
        q = ops.einsum("btf,fnd->bntd", x, self.w_query) + self.b_query
        k = ops.einsum("btf,fnd->bntd", x, self.w_key) + self.b_key
        v = ops.einsum("btf,fnd->bntd", x, self.w_value) + self.b_value
        scores = ops.einsum("bnqd,bnkd->bnqk", q, k) * self.scale + key_bias
        context = ops.einsum("bnqk,bnkd->bnqd", ops.softmax(scores, axis=-1), v)
        x = self.attention_norm(x + ops.einsum("bnqd,ndf->bqf", context, self.w_out) + self.b_out)
        hidden = keras.activations.gelu(ops.matmul(x, self.w_up) + self.b_up, approximate=self.approximate)
        return self.output_norm(x + ops.matmul(hidden, self.w_down) + self.b_down)


def _layer_norm(config: BertConfig, gamma: np.ndarray, beta: np.ndarray):
    return keras.layers.LayerNormalization(
        epsilon=config.layer_norm_eps, gamma_initializer=_fixed(gamma), beta_initializer=_fixed(beta), trainable=False
    )


class BertEncoder(keras.Model):
    """Embeddings, then the blocks; ``(token_ids, attention_mask)`` -> last hidden layer."""

    def __init__(self, config: BertConfig, weights: dict[str, np.ndarray], **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.config = config
        self.embeddings = BertEmbeddings(config, _embedding_weights(weights), name="embeddings")
        self.blocks = [BertBlock(config, _block_weights(weights, i), name=f"layer_{i}") for i in range(config.layers)]

    def call(self, inputs):
        token_ids, mask = inputs
        key_bias = (1.0 - ops.cast(mask, "float32"))[:, None, None, :] * MASKED  # (batch, 1, 1, keys)
        x = self.embeddings(token_ids)
        for block in self.blocks:
            x = block(x, key_bias)
        return x


def _embedding_weights(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    prefix = "embeddings."
    return {
        "word": weights[prefix + "word_embeddings.weight"],
        "position": weights[prefix + "position_embeddings.weight"],
        "token_type": weights[prefix + "token_type_embeddings.weight"],
        "norm_gamma": weights[prefix + "LayerNorm.weight"],
        "norm_beta": weights[prefix + "LayerNorm.bias"],
    }


BLOCK_KEYS = {  # our name -> the Transformers checkpoint's name under encoder.layer.<i>.
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_out": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "up": "intermediate.dense",
    "down": "output.dense",
    "output_norm": "output.LayerNorm",
}


def _block_weights(weights: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    out = {}
    for ours, theirs in BLOCK_KEYS.items():
        base = f"encoder.layer.{i}.{theirs}"
        if ours.endswith("_norm"):
            out[f"{ours}_gamma"], out[f"{ours}_beta"] = weights[f"{base}.weight"], weights[f"{base}.bias"]
        else:
            out[ours], out[f"{ours}_bias"] = weights[f"{base}.weight"], weights[f"{base}.bias"]
    return out


def required_keys(config: BertConfig) -> list[str]:
    """The checkpoint tensors the encoder reads (the pooler, unused by sentence encoders, is not among them)."""
    keys = [
        f"embeddings.{name}"
        for name in (
            "word_embeddings.weight",
            "position_embeddings.weight",
            "token_type_embeddings.weight",
            "LayerNorm.weight",
            "LayerNorm.bias",
        )
    ]
    return keys + [
        f"encoder.layer.{i}.{name}.{p}"
        for i in range(config.layers)
        for name in BLOCK_KEYS.values()
        for p in ("weight", "bias")
    ]


def build_encoder(config: BertConfig, weights: dict[str, np.ndarray]) -> BertEncoder:
    """The frozen encoder with the checkpoint's weights (names as in a Transformers ``BertModel``)."""
    return BertEncoder(config, weights, name="bert")
