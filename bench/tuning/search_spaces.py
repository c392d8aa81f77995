"""What Optuna searches for a pairing: the backend's and the classifier's registered search spaces.

Each backend and classifier declares its own space on its registry entry (``BackendSpec.search_space``,
``ClassifierSpec.search_space``) and its reference configurations (``BackendSpec.references``); this module is
the one entry point the runner calls. Every pairing of a task gets the same trial budget (``Profile.trials``);
the epoch cap, early-stopping patience and the text window come from the profile, not from the search.

The built-in spaces:

| part | searched | fixed |
|---|---|---|
| learned | embedding_dim {32, 64, 128}, vocab_size {5k, 20k}; with title + body: inputs {joined, title+body} | the window |
| tfidf | ngram_max {1, 2}, min_df {1, 2}, sublinear_tf | max_features 50,000 |
| word2vec | vector_size {50, 100, 200}, window {3, 5, 8}, trainable {frozen, fine-tuned}, pooling {mean, tfidf} | skip-gram, min_count 2, negative 5, epochs 5, seed, 1 worker |
| word2vec-corpus, vectors-&lt;file&gt; | trainable, pooling as word2vec | the vectors (pretrained once on the corpus: 100-d, window 5, min_count 3; or the file's) |
| spacy-sm, spacy-glove | | pipeline, nlp.pipe batch 256 |
| elmo | | the model (``--elmo-handle``, or the biLM pretrained once on the corpus, sized by profile); equal scalar mix |
| minilm, sentence-&lt;dir&gt; | | the model (all-MiniLM-L6-v2, or ``--sentence-model``), frozen; its pooling and max length (256 word pieces) |
| flatten-dense | dense_units {16, 32, 64}, dropout [0, 0.5], learning_rate [3e-4, 1e-2] log, batch_size {32, 64, 128} | epochs cap, patience, min_delta; token vectors standardised on the training split |
| lstm, bilstm, gru | units {32, 64, 128} + the flatten-dense ones | epochs cap, patience |
| any Keras, title+body inputs | title_units {64, 128, 300}, body_units {64, 128, 200}, head_units {100, 200, 400}, head2_units {50, 150}, batch_size {64, 128, 256}, dropout, learning_rate | |
| logreg | C [0.01, 100] log, class_weight {none, balanced} | max_iter 1,000; dense vectors standardised on the training split (the notebook reference is not, and its parameters are named unscaled_C, unscaled_class_weight) |

Reference configurations (the notebooks' settings for learned x flatten-dense / lstm / bilstm, learned x lstm /
gru on multi-label title+body tasks, elmo x logreg) are enqueued as the first trial of the matching study, so
the tuned result is never worse on validation than the reference.
"""

from __future__ import annotations

import optuna

from bench.profiles import Profile
from embeddings import get_backend
from models import get_classifier


def suggest_backend(trial: optuna.Trial, backend: str, profile: Profile, fields: tuple[str, ...] = ("text",)) -> dict:
    """Backend settings for one trial, from the backend's registered ``search_space``.

    How much text a backend reads is not searched: every backend reads the task's window (``Profile.window``).
    ``fields`` are the task's text fields (e.g. ``("title", "body")``).
    """
    return get_backend(backend).search_space(trial, profile, tuple(fields))


def suggest_classifier(trial: optuna.Trial, classifier: str, profile: Profile, two_inputs: bool = False) -> dict:
    """Classifier settings for one trial (``two_inputs``: the backend gives separate title and body inputs)."""
    return get_classifier(classifier).search_space(trial, profile, two_inputs)


def reference_params(
    backend: str, classifier: str, profile: Profile, task_type: str = "", fields: tuple[str, ...] = ()
) -> dict | None:
    """The reference trial for a pairing on a task (``{"name", "params"}``): the backend's first reference that
    applies, or None."""
    reference = next(
        (r for r in get_backend(backend).references if r.applies(classifier, task_type, tuple(fields))), None
    )
    return {"name": reference.name, "params": dict(reference.params)} if reference else None
