"""A registry of named parts that installed packages extend through entry points, and what a search space reads
of the run profile.

A package adds a part without editing pairbench by declaring an entry point whose object is the part's spec::

    [project.entry-points."pairbench.backends"]
    my-backend = "my_package.backend:SPEC"        # an embeddings.BackendSpec named "my-backend"

    [project.entry-points."pairbench.classifiers"]
    my-classifier = "my_package.classifier:SPEC"  # a models.ClassifierSpec named "my-classifier"

The entry points of a group are loaded the first time the registry is read (listed, looked up, counted), after
the built-in parts; a plugin of a built-in's name replaces it.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, MutableMapping
from typing import Any, Generic, Protocol, TypeVar

from parts.errors import BenchError, lookup

S = TypeVar("S")


class SearchProfile(Protocol):
    """What a search space may read of the run profile (``bench.profiles.Profile`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def max_epochs(self) -> int: ...

    @property
    def patience(self) -> int: ...

    @property
    def min_delta(self) -> float: ...

    @property
    def window(self) -> int: ...

    @property
    def seed(self) -> int: ...


def missing_search_space(trial: Any, profile: SearchProfile, context: Any) -> dict:
    """A spec's ``search_space`` when none is given: the spec refuses itself at construction."""
    raise TypeError("no search space was given")


class Registry(MutableMapping[str, S], Generic[S]):
    """Parts of one ``kind`` (e.g. "embedding backend") by name: those registered by assignment, plus the specs
    of the installed packages' entry points of ``group``, loaded on the first read.

    A plugin that fails to load, names an object that is not a ``spec_type`` or a spec of another name raises a
    ``BenchError`` naming the entry point (on every read, until it is fixed)."""

    def __init__(self, kind: str, group: str, spec_type: type[S]) -> None:
        self.kind, self.group, self.spec_type = kind, group, spec_type
        self._parts: dict[str, S] = {}
        self._plugins = "unloaded"  # then "loading" (a plugin's import may read the registry), then "loaded"

    def get_spec(self, name: str) -> S:
        """The part called ``name``, or a ``BenchError`` suggesting the closest name and listing all."""
        return lookup(self, self.kind, name)

    def plugins(self) -> list[importlib.metadata.EntryPoint]:
        """The entry points of this registry's group in the installed packages."""
        return list(importlib.metadata.entry_points(group=self.group))

    def _load_plugins(self) -> None:
        if self._plugins != "unloaded":
            return
        self._plugins = "loading"
        try:
            for entry_point in self.plugins():
                spec = self._load(entry_point)
                self._parts[entry_point.name] = spec
        except BaseException:
            self._plugins = "unloaded"
            raise
        self._plugins = "loaded"

    def _load(self, entry_point: importlib.metadata.EntryPoint) -> S:
        dist = entry_point.dist.name if entry_point.dist else "an unknown package"
        where = (
            f"{self.kind} plugin {entry_point.name!r} (entry point {entry_point.value!r} of {dist}, group {self.group})"
        )
        try:
            spec = entry_point.load()
        except Exception as exc:  # noqa: BLE001  (whatever the plugin's import raised is the finding)
            first_line = (str(exc).splitlines() or [""])[0]
            raise BenchError(f"{where} failed to load: {type(exc).__name__}: {first_line}") from exc
        if not isinstance(spec, self.spec_type):
            raise BenchError(f"{where} names a {type(spec).__name__}, expected a {self.spec_type.__name__}")
        name = getattr(spec, "name", None)
        if name != entry_point.name:
            raise BenchError(f"{where} names the {self.kind} {name!r}; name the entry point as the part")
        return spec

    def __getitem__(self, name: str) -> S:
        self._load_plugins()
        return self._parts[name]

    def __setitem__(self, name: str, spec: S) -> None:
        self._parts[name] = spec

    def __delitem__(self, name: str) -> None:
        del self._parts[name]

    def __iter__(self) -> Iterator[str]:
        self._load_plugins()
        return iter(self._parts)

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._parts)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._parts

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self)})"
