"""Classifiers: one contract (``fit`` / ``predict_scores``) over Keras 3 networks and scikit-learn.

Keras runs on the JAX backend unless ``KERAS_BACKEND`` is set (JAX trains the recurrent networks faster on CPU;
the docs' performance section has the figures; ``KERAS_BACKEND=tensorflow`` works too).
"""

import importlib.util
import logging
import os

os.environ.setdefault("KERAS_BACKEND", "jax" if importlib.util.find_spec("jax") else "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter (CUDA probes on CPU)
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices for every new model

from models import keras_classifiers, logreg  # noqa: E402,F401  (registers the built-in classifiers)
from models.registry import CLASSIFIERS, ClassifierSpec, get_classifier, register_classifier  # noqa: E402

__all__ = ["CLASSIFIERS", "ClassifierSpec", "get_classifier", "register_classifier"]
