"""Classifiers: one contract (``fit`` / ``predict_scores``) over Keras 3 networks and scikit-learn.

Keras runs on the backend ``models.keras_backend.choose_keras_backend`` picks: ``$KERAS_BACKEND``, else the run
profile's, else JAX.
"""

import logging
import os

from models.keras_backend import choose_keras_backend

choose_keras_backend()  # the default until a run chooses its profile's (bench.config), before Keras loads
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter (CUDA probes on CPU)
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices for every new model

from models import keras_classifiers, logreg  # noqa: E402,F401  (registers the built-in classifiers)
from models.registry import CLASSIFIERS, ClassifierSpec, get_classifier, register_classifier  # noqa: E402

__all__ = ["CLASSIFIERS", "ClassifierSpec", "get_classifier", "register_classifier"]
