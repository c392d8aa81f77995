"""The contract every backend and classifier honours, as checks an author runs on their own part.

In the spirit of scikit-learn's ``check_estimator``::

    from bench.contract import check_backend, check_classifier

    check_backend("my-backend")          # on a tiny synthetic task; or pass a TaskData of your own
    check_classifier("my-classifier")    # on synthetic features of every kind it accepts, every task type

Each raises ``AssertionError`` with one line naming the part and what failed, and returns None when the part
passes. Both take a registered name or a spec that is not registered yet. Each runs the checks of
``BACKEND_CHECKS`` / ``CLASSIFIER_CHECKS`` (a ``Check``: a name and ``run(spec, setting)``), which a test suite
can parametrise over, one case per part and check (as ``tests/test_contract.py`` does)::

    @pytest.mark.parametrize("check", BACKEND_CHECKS, ids=lambda check: check.name)
    def test_my_backend(check):
        check.run(get_backend("my-backend"), Setting())
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import scipy.sparse as sp

from bench.data.tasks import SPLITS, TASK_TYPES, Dataset, Split, Task, TaskData
from bench.profiles import PROFILES, Profile
from bench.tuning import metrics
from embeddings import BACKENDS, BackendSpec, Features, get_backend
from embeddings.registry import FEATURE_KINDS, Pretraining
from models import ClassifierSpec, get_classifier

FIELD_SETS = (("text",), ("title", "body"))  # the text fields a search space is sampled for
TRIALS = 3  # sampled trials per search space and text fields
PROBE = "zzzcontractprobe"  # a word only the test split has


# --------------------------------------------------------------------------- fixtures


def synthetic_task(
    task_type: str = "multiclass",
    fields: tuple[str, ...] = ("text",),
    sizes: tuple[int, int, int] = (48, 16, 16),
    seed: int = 0,
) -> TaskData:
    """A tiny task whose words depend on the label (so a part can learn it): ``sizes`` documents of train,
    validation and test, each field 12 words; 4 classes (multiclass), 5 labels of 1-2 per document
    (multi-label) or a positive and a negative class (binary)."""
    rng = np.random.default_rng(seed)
    names = {
        "binary": ["positive", "other"],
        "multiclass": ["alpha", "beta", "gamma", "delta"],
        "multilabel": ["red", "green", "blue", "cyan", "pink"],
    }[task_type]
    common = "how do i get the value from a list in this function".split()

    def document(labels) -> dict[str, str]:
        words = [f"{label}{k}" for label in labels for k in range(4)]
        return {
            f: " ".join(rng.choice(words) if rng.random() < 0.4 else rng.choice(common) for _ in range(12))
            for f in fields
        }

    splits = {}
    for split, n in zip(SPLITS, sizes):
        labels: list = [names[i % len(names)] for i in range(n)]  # every class in every split
        if task_type == "multilabel":
            labels = [tuple(sorted({label, names[int(rng.integers(len(names)))]})) for label in labels]
        docs = [document(label if isinstance(label, tuple) else (label,)) for label in labels]
        splits[split] = Split({f: [d[f] for d in docs] for f in fields}, labels)
    dataset = Dataset(
        name="synthetic",
        filename="(synthetic)",
        columns=(*fields, "label"),
        text_fields={f: operator.itemgetter(f) for f in fields},
    )
    task = Task(
        name=f"synthetic-{task_type}",
        task_type=task_type,
        dataset=dataset,
        labels=lambda row, where: row["label"],
        description="a synthetic task of bench.contract",
        positive_label="positive" if task_type == "binary" else None,
    )
    classes = ["other", "positive"] if task_type == "binary" else sorted(names)
    key = f"synthetic|{task_type}|{'+'.join(fields)}|{'/'.join(map(str, sizes))}|seed{seed}"
    return TaskData.from_splits(task, classes, splits, {}, key)


def synthetic_features(
    kind: str,
    task_type: str,
    *,
    n: tuple[int, int, int] = (48, 16, 16),
    length: int = 12,
    width: int = 8,
    vocab_size: int = 60,
    frozen_matrix: bool = False,
    seed: int = 0,
) -> tuple[Features, dict[str, np.ndarray], int]:
    """Features of ``kind`` that carry the labels' signal, the encoded labels per split and the output count."""
    rng = np.random.default_rng(seed)
    n_outputs = {"binary": 2, "multiclass": 4, "multilabel": 5}[task_type]
    y, x = {}, {}
    for split, rows in zip(SPLITS, n):
        label = np.arange(rows) % n_outputs
        if task_type == "binary":
            y[split] = label.astype(np.int64) % 2
        elif task_type == "multiclass":
            y[split] = label.astype(np.int64)
        else:
            y[split] = (
                np.eye(n_outputs, dtype=np.int8)[label]
                | np.eye(n_outputs, dtype=np.int8)[rng.integers(n_outputs, size=rows)]
            )
        signal = label[:, None] * 5 + rng.integers(5, size=(rows, length)) + 2  # ids 2.. by label
        if kind == "ids":
            x[split] = np.where(rng.random((rows, length)) < 0.8, signal, 0).astype(np.int32)  # some padding
        elif kind == "token_vectors":
            x[split] = (rng.normal(size=(rows, length, width)) + label[:, None, None]).astype(np.float32)
        elif kind == "pooled":
            x[split] = (rng.normal(size=(rows, width)) + label[:, None]).astype(np.float32)
        elif kind == "sparse":
            x[split] = sp.csr_matrix(np.eye(vocab_size, dtype=np.float32)[signal].sum(axis=1))
        else:
            raise ValueError(f"unknown feature kind {kind!r}; expected one of {', '.join(FEATURE_KINDS)}")
    features = Features.from_splits(kind, x)
    if kind == "ids":
        matrix = rng.normal(size=(vocab_size, width)).astype(np.float32) if frozen_matrix else None
        features = dataclasses.replace(
            features, vocab_size=vocab_size, trainable=not frozen_matrix, embedding_matrix=matrix
        )
    return features, y, n_outputs


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Setting:
    """What the checks run on. ``data``: the task a backend is built on (default: ``synthetic_task()``);
    ``params``: the part's settings (default: a trial sampled from its search space with ``profile``);
    ``task_types``: those a classifier is fitted on; ``seed``: the classifier's fitting seed."""

    data: TaskData | None = None
    params: dict | None = None
    profile: Profile = PROFILES["smoke"]
    task_types: tuple[str, ...] = TASK_TYPES
    seed: int = 0


@dataclass(frozen=True)
class Check:
    """One check of the contract: ``run(spec, setting)`` raises ``AssertionError`` with one line naming the part
    and what failed. ``applies(spec)``: whether the check concerns the part (e.g. only a ``deterministic``
    classifier is checked for determinism); ``task_type``: the task type a classifier check fits (or None)."""

    name: str
    run: Callable[[Any, Setting], None]
    applies: Callable[[Any], bool] = lambda spec: True
    task_type: str | None = None


def check_backend(
    backend: str | BackendSpec,
    data: TaskData | None = None,
    *,
    params: dict | None = None,
    profile: Profile | str = "smoke",
) -> None:
    """Check a backend against the contract on ``data`` (default: ``synthetic_task()``): every check of
    ``BACKEND_CHECKS`` that applies to it.

    Checked: its declaration (feature kinds, what it pretrains, its baseline and two-input declarations); its
    search space returns JSON-serialisable params that depend on the trial alone, for one text field and for a
    title and a body; each reference names a registered classifier and sets only parameters of the backend's and
    that classifier's spaces, to values they accept; ``build`` yields every declared kind, with one row per
    document of each split, in the shapes the kind promises, and JSON-serialisable ``info``; the training and
    validation features do not change when the test split does (fitted on train only).
    ``params``: the build settings (default: a trial sampled from the search space). Backends that pretrain
    (``word2vec-corpus``) need their corpus given first (``embeddings.word2vec.use_corpus``).
    """
    spec = backend if isinstance(backend, BackendSpec) else get_backend(backend)
    setting = Setting(data=data, params=params, profile=PROFILES[profile] if isinstance(profile, str) else profile)
    for check in BACKEND_CHECKS:
        if check.applies(spec):
            check.run(spec, setting)


def check_classifier(
    classifier: str | ClassifierSpec,
    *,
    params: dict | None = None,
    task_types: tuple[str, ...] = TASK_TYPES,
    profile: Profile | str = "smoke",
    seed: int = 0,
) -> None:
    """Check a classifier against the contract on synthetic features of every kind it accepts: every check of
    ``CLASSIFIER_CHECKS`` that applies to it, on the task types of ``task_types``.

    Checked: the feature kinds it accepts; its search space returns JSON-serialisable params that depend on the
    trial alone (one input, and title and body inputs); for each task type and accepted kind (token ids with a
    learned embedding and with a frozen matrix), ``fit`` trains, calls ``on_epoch`` at least once with a score in
    [0, 1] and sets ``n_params`` > 0, and ``predict_scores`` returns finite probabilities of shape ``(n,)``
    (binary), ``(n, classes)`` summing to 1 (multiclass) or ``(n, labels)`` (multi-label) for validation
    and test; a ``deterministic`` classifier scores the same with another seed.
    ``params``: the classifier's settings (default: a trial sampled from its search space with ``profile``).
    """
    spec = classifier if isinstance(classifier, ClassifierSpec) else get_classifier(classifier)
    setting = Setting(
        params=params,
        profile=PROFILES[profile] if isinstance(profile, str) else profile,
        task_types=tuple(task_types),
        seed=seed,
    )
    for check in CLASSIFIER_CHECKS:
        if check.applies(spec) and (check.task_type is None or check.task_type in setting.task_types):
            check.run(spec, setting)


def check_backend_declaration(spec: BackendSpec, setting: Setting) -> None:
    """It provides some feature kind; what it pretrains is a ``Pretraining`` whose counterpart is registered."""
    require = _requirer(f"check_backend({spec.name})")
    require(spec.provides, "provides no feature kind")
    pretrains = spec.pretrains
    require(
        pretrains is None or (isinstance(pretrains, Pretraining) and pretrains.part and callable(pretrains.build)),
        f"pretrains {pretrains!r}: expected None or a Pretraining(part, build) with a build function",
    )
    if pretrains is not None and pretrains.counterpart:
        require(
            pretrains.counterpart in BACKENDS,
            f"pretrains the counterpart of {pretrains.counterpart!r}, which is not a registered backend",
        )
    require(
        callable(spec.two_inputs) and isinstance(spec.baseline, bool),
        "two_inputs must be a function of the params and baseline a bool",
    )


def check_backend_search_space(spec: BackendSpec, setting: Setting) -> None:
    """For the data's text fields, one text field and a title and a body: see ``_check_space``."""
    require = _requirer(f"check_backend({spec.name})")
    fields = _fields(setting)
    for field_set in dict.fromkeys((fields, *FIELD_SETS)):
        _check_space(require, lambda trial: spec.search_space(trial, setting.profile, field_set), f"fields {field_set}")


def check_backend_references(spec: BackendSpec, setting: Setting) -> None:
    """Each reference names a registered classifier and sets parameters of the two search spaces only."""
    require = _requirer(f"check_backend({spec.name})")
    for reference in spec.references:
        _check_reference(require, spec, reference, setting.profile)


def check_backend_features(spec: BackendSpec, setting: Setting) -> None:
    """``build`` yields every declared kind: one row per document of each split, in the kind's shapes."""
    require = _requirer(f"check_backend({spec.name})")
    data, params = _data(setting), _backend_params(spec, setting)
    for kind in spec.provides:
        features = _attempt(require, f"build(data, {params}, {kind!r})", lambda: _build(spec, data, params, kind))
        _check_features(require, features, kind, data)


def check_backend_fitted_on_train_only(spec: BackendSpec, setting: Setting) -> None:
    """Training and validation features do not change when a word is added to the test split alone."""
    require = _requirer(f"check_backend({spec.name})")
    data, params = _data(setting), _backend_params(spec, setting)
    probed = _with_test_probe(data)
    for kind in spec.provides:
        features = _attempt(require, f"build(data, {params}, {kind!r})", lambda: _build(spec, data, params, kind))
        again = _attempt(
            require, f"build with a probed test split ({kind!r})", lambda: _build(spec, probed, params, kind)
        )
        for split in ("train", "validation"):
            require(
                _same(features.split(split), again.split(split)),
                f"{kind}: the {split} features changed when only the test split did (fit on train only)",
            )


def check_classifier_declaration(spec: ClassifierSpec, setting: Setting) -> None:
    """It accepts some feature kinds, all known."""
    require = _requirer(f"check_classifier({spec.name})")
    require(
        spec.accepts and set(spec.accepts) <= set(FEATURE_KINDS),
        f"accepts {spec.accepts}: expected some of {', '.join(FEATURE_KINDS)}",
    )


def check_classifier_search_space(spec: ClassifierSpec, setting: Setting) -> None:
    """For one input and for title and body inputs: see ``_check_space``."""
    require = _requirer(f"check_classifier({spec.name})")
    for two_inputs in (False, True):
        _check_space(
            require, lambda trial: spec.search_space(trial, setting.profile, two_inputs), f"two_inputs={two_inputs}"
        )


def _check_classifier_fits(spec: ClassifierSpec, setting: Setting, task_type: str) -> None:
    """Fit and predict on every accepted kind (ids also with a frozen matrix) of one task type."""
    require = _requirer(f"check_classifier({spec.name})")
    for kind, frozen, where in _fit_cases(spec, task_type):
        features, y, n_outputs = synthetic_features(kind, task_type, frozen_matrix=frozen, seed=setting.seed)
        _fit_and_predict(
            require, spec, _classifier_params(spec, setting), features, y, task_type, n_outputs, setting.seed, where
        )


def check_classifier_deterministic(spec: ClassifierSpec, setting: Setting) -> None:
    """A classifier declared ``deterministic`` scores the same with another seed, on every task type and kind."""
    require = _requirer(f"check_classifier({spec.name})")
    for task_type in setting.task_types:
        for kind, frozen, where in _fit_cases(spec, task_type):
            features, y, n_outputs = synthetic_features(kind, task_type, frozen_matrix=frozen, seed=setting.seed)
            scores, other = (
                _fit_and_predict(
                    require, spec, _classifier_params(spec, setting), features, y, task_type, n_outputs, seed, where
                )
                for seed in (setting.seed, setting.seed + 1)
            )
            require(
                np.allclose(scores, other),
                f"{where}: declared deterministic, but another seed scores "
                f"differently (max difference {np.max(np.abs(scores - other)):.3g})",
            )


BACKEND_CHECKS: list[Check] = [
    Check("declaration", check_backend_declaration),
    Check("search_space", check_backend_search_space),
    Check("references", check_backend_references, applies=lambda spec: bool(spec.references)),
    Check("features", check_backend_features),
    Check("fitted_on_train_only", check_backend_fitted_on_train_only),
]
CLASSIFIER_CHECKS: list[Check] = [
    Check("declaration", check_classifier_declaration),
    Check("search_space", check_classifier_search_space),
    *(
        Check(f"fit_{task_type}", functools.partial(_check_classifier_fits, task_type=task_type), task_type=task_type)
        for task_type in TASK_TYPES
    ),
    Check("deterministic", check_classifier_deterministic, applies=lambda spec: spec.deterministic),
]


# --------------------------------------------------------------------------- the parts of the checks


def _fields(setting: Setting) -> tuple[str, ...]:
    return tuple(_data(setting).task.dataset.text_fields)


def _data(setting: Setting) -> TaskData:
    return setting.data if setting.data is not None else synthetic_task()


def _backend_params(spec: BackendSpec, setting: Setting) -> dict:
    if setting.params is not None:
        return dict(setting.params)
    return spec.search_space(_sampled_trial(), setting.profile, _fields(setting))


def _classifier_params(spec: ClassifierSpec, setting: Setting) -> dict:
    if setting.params is not None:
        return dict(setting.params)
    return spec.search_space(_sampled_trial(), setting.profile, False)


_BUILT: collections.OrderedDict = collections.OrderedDict()  # the last few builds, shared by the backend checks
_BUILT_KEPT = 4


def _build(spec: BackendSpec, data: TaskData, params: dict, kind: str) -> Features:
    """``spec.build(data, params, kind)``, reused by the next check that asks for the same build."""
    key = (spec.name, id(spec.build), data.key, json.dumps(params, sort_keys=True, default=str), kind)
    if key not in _BUILT:
        _BUILT[key] = spec.build(data, dict(params), kind)
        while len(_BUILT) > _BUILT_KEPT:
            _BUILT.popitem(last=False)
    return _BUILT[key]


def _fit_cases(spec: ClassifierSpec, task_type: str) -> list[tuple[str, bool, str]]:
    """(kind, frozen embedding matrix, where) of each fit a task type's check makes."""
    return [
        (kind, frozen, f"{task_type}, {kind}" + (" with a frozen matrix" if frozen else ""))
        for kind in spec.accepts
        for frozen in ((False, True) if kind == "ids" and task_type == "multiclass" else (False,))
    ]


def _requirer(who: str):
    def require(condition, what: str) -> None:
        if not condition:
            raise AssertionError(f"{who}: {what}")

    return require


def _attempt(require, what: str, call):
    """``call()``; an exception it raises becomes the check's one-line failure (chained to the original)."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001  (any failure of the part is the finding)
        first_line = (str(exc).splitlines() or [""])[0]
        require(False, f"{what} raised {type(exc).__name__}: {first_line}")


def _sampled_trial(seed: int = 0) -> optuna.Trial:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()


def _jsonable(value) -> bool:
    try:
        json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else _not_jsonable(v))
    except (TypeError, ValueError):
        return False
    return True


def _not_jsonable(value):
    raise TypeError(type(value).__name__)


def _check_space(require, space, where: str) -> None:
    """Sampled trials give JSON-serialisable dicts, and replaying a trial's parameters gives the same dict."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(TRIALS):
        trial = study.ask()
        params = _attempt(require, f"search space ({where})", lambda: space(trial))
        require(isinstance(params, dict), f"search space ({where}) returned {type(params).__name__}, not a dict")
        require(_jsonable(params), f"search space ({where}) returned params that are not JSON-serialisable: {params}")
        replay = space(optuna.trial.FixedTrial(trial.params))
        require(
            replay == params,
            f"search space ({where}) is not a function of the trial's parameters: "
            f"{params} then {replay} for {trial.params}",
        )
        study.tell(trial, 0.0)


def _check_reference(require, spec: BackendSpec, reference, profile: Profile) -> None:
    """Enqueued, the reference fixes every parameter it names, through the backend's and classifier's spaces."""
    from models import CLASSIFIERS

    where = f"reference {reference.name!r}"
    require(
        reference.classifier in CLASSIFIERS,
        f"{where} names classifier {reference.classifier!r}, which is not registered",
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(reference.params, user_attrs={"reference": reference.name})
    trial = study.ask()
    backend_params = spec.search_space(trial, profile, reference.fields or ("text",))
    CLASSIFIERS[reference.classifier].search_space(trial, profile, spec.two_inputs(backend_params))
    unused = sorted(set(reference.params) - set(trial.params))
    require(not unused, f"{where}: {unused} are in neither the backend's nor {reference.classifier}'s search space")
    changed = {k: (v, trial.params[k]) for k, v in reference.params.items() if trial.params[k] != v}
    require(not changed, f"{where}: values outside the search space (set, used): {changed}")


def _n_rows(x) -> set[int]:
    return {v.shape[0] for v in x.values()} if isinstance(x, dict) else {x.shape[0]}


def _arrays(x) -> list:
    return list(x.values()) if isinstance(x, dict) else [x]


def _check_features(require, features, kind: str, data: TaskData) -> None:
    require(isinstance(features, Features), f"{kind}: build returned {type(features).__name__}, not Features")
    require(features.kind == kind, f"asked for {kind}, build returned {features.kind}")
    for split in SPLITS:
        rows = _n_rows(features.split(split))
        require(
            rows == {len(data.split(split))},
            f"{kind}: {split} has {sorted(rows)} rows for {len(data.split(split))} documents",
        )
    require(
        isinstance(features.info, dict) and _jsonable(features.info),
        f"{kind}: info must be a JSON-serialisable dict, got {features.info!r}",
    )
    splits = [_arrays(features.split(s)) for s in SPLITS]
    shapes = {tuple(a.shape[1:] for a in arrays) for arrays in splits}
    require(len(shapes) == 1, f"{kind}: train, validation and test differ in shape past the rows: {sorted(shapes)}")
    for arrays in splits:
        for a in arrays:
            if kind == "sparse":
                require(
                    sp.issparse(a) and a.ndim == 2 and np.isfinite(a.data).all(),
                    f"sparse: expected a finite 2-D scipy.sparse matrix, got {type(a).__name__}",
                )
                continue
            require(isinstance(a, np.ndarray), f"{kind}: expected numpy arrays, got {type(a).__name__}")
            if kind == "ids":
                require(
                    a.ndim == 2 and np.issubdtype(a.dtype, np.integer),
                    f"ids: expected 2-D integer ids, got {a.ndim}-D {a.dtype}",
                )
                require(
                    a.size == 0 or (a.min() >= 0 and a.max() < features.vocab_size),
                    f"ids: ids outside [0, vocab_size={features.vocab_size})",
                )
            else:
                ndim = {"token_vectors": 3, "pooled": 2}[kind]
                require(
                    a.ndim == ndim and np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all(),
                    f"{kind}: expected finite {ndim}-D float arrays, got {a.ndim}-D {a.dtype}",
                )
    if kind == "ids":
        require(features.vocab_size > 2, f"ids: vocab_size {features.vocab_size} leaves no id past padding and OOV")
        matrix = features.embedding_matrix
        require(
            matrix is None
            or (matrix.ndim == 2 and matrix.shape[0] == features.vocab_size and np.isfinite(matrix).all()),
            f"ids: embedding_matrix must be None or finite (vocab_size={features.vocab_size}, width), "
            f"got shape {getattr(matrix, 'shape', None)}",
        )


def _with_test_probe(data: TaskData) -> TaskData:
    """The same task with a word only the test split has at the start of each test document."""
    test = Split(
        {f: [f"{PROBE} {t}" for t in texts] for f, texts in data.test.fields.items()},
        list(data.test.labels),
        data.test.window,
    )
    return dataclasses.replace(data, test=test, key=f"{data.key}|test-probe")


def _same(a, b) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
        )
    if sp.issparse(a) or sp.issparse(b):
        return sp.issparse(a) and sp.issparse(b) and a.shape == b.shape and (a != b).nnz == 0
    return np.array_equal(np.asarray(a), np.asarray(b))


def _fit_and_predict(
    require,
    spec: ClassifierSpec,
    params: dict,
    features: Features,
    y: dict,
    task_type: str,
    n_outputs: int,
    seed: int,
    where: str,
) -> np.ndarray:
    epochs = []
    model = _attempt(require, f"{where}: make({params})", lambda: spec.make(params))
    _attempt(
        require,
        f"{where}: fit",
        lambda: model.fit(
            features,
            y["train"],
            y["validation"],
            task_type=task_type,
            n_outputs=n_outputs,
            score_fn=lambda yt, s: metrics.tuned_main_score(task_type, yt, s),
            on_epoch=lambda epoch, score: epochs.append(score),
            seed=seed,
        ),
    )
    require(epochs, f"{where}: fit never called on_epoch(epoch, validation_score)")
    require(all(0.0 <= s <= 1.0 for s in epochs), f"{where}: on_epoch scores outside [0, 1]: {epochs}")
    require(
        isinstance(model.n_params, (int, np.integer)) and model.n_params > 0,
        f"{where}: n_params is {model.n_params!r} after fit, expected a positive int",
    )
    scores = {}
    for split in ("validation", "test"):
        s = np.asarray(
            _attempt(require, f"{where}: predict_scores", lambda: model.predict_scores(features.split(split)))
        )
        n = len(y[split])
        shape = (n,) if task_type == "binary" else (n, n_outputs)
        require(s.shape == shape, f"{where}: {split} scores have shape {s.shape}, expected {shape}")
        require(
            np.isfinite(s).all() and s.min() >= 0.0 and s.max() <= 1.0,
            f"{where}: {split} scores are not finite probabilities in [0, 1]",
        )
        if task_type == "multiclass":
            require(
                np.allclose(s.sum(axis=1), 1.0, atol=1e-3),
                f"{where}: {split} class probabilities do not sum to 1 (row sums {np.round(s.sum(axis=1)[:3], 4)}...)",
            )
        scores[split] = s
    return scores["test"]
