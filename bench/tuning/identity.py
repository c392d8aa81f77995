"""What an Optuna study of this project is: its profile, task, pairing and variant, stored as study attributes.

Every study the runner, the controls or the learning curves open carries its identity as user attributes
(``profile``, ``task``, ``backend``, ``classifier``, ``variant``), so readers never parse its name. The name
(``StudyIdentity.name``) is for display and lookup only, and stays the string earlier versions used: a study's
sampler seed derives from it (``runner.open_study``), so a resumed study draws the same configurations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CONTROLS = "controls"  # the variant of a task's controls study (no backend, no classifier)
_KEYS = ("profile", "task", "backend", "classifier", "variant")


@dataclass(frozen=True)
class StudyIdentity:
    """One study: ``variant`` "" is a leaderboard pairing; "controls" a task's controls; anything else a study
    outside the leaderboard (``full-text``, ``curve-n<size>``...)."""

    profile: str
    task: str
    backend: str = ""
    classifier: str = ""
    variant: str = ""

    @property
    def name(self) -> str:
        """The study name: ``profile:task:backend:classifier[:variant]``, or ``profile:task:controls``."""
        if self.variant == CONTROLS:
            return f"{self.profile}:{self.task}:{CONTROLS}"
        return ":".join(
            [self.profile, self.task, self.backend, self.classifier] + ([self.variant] if self.variant else [])
        )

    @property
    def is_pairing(self) -> bool:
        """A leaderboard pairing (not controls, not a variant)."""
        return not self.variant

    def attrs(self) -> dict[str, str]:
        return asdict(self)

    def label(self, study) -> None:
        """Store this identity on ``study`` (an ``optuna.Study``) unless it is there already."""
        if study.user_attrs.get("task") != self.task:
            for key, value in self.attrs().items():
                study.set_user_attr(key, value)


def identity_of(name: str, user_attrs: dict) -> StudyIdentity | None:
    """The identity of a stored study: from its attributes, or, for a study written before identities were
    stored (attributes absent), parsed from its name: the one place a name is parsed. None for a study that
    is not one of this project's (e.g. a worker's claim study ``<study>:claim`` written before)."""
    if all(key in user_attrs for key in _KEYS):
        return StudyIdentity(**{key: user_attrs[key] for key in _KEYS})
    parts = name.split(":")
    if len(parts) == 3 and parts[2] == CONTROLS:
        return StudyIdentity(parts[0], parts[1], variant=CONTROLS)
    if len(parts) == 4:
        return StudyIdentity(*parts)
    if len(parts) == 5 and parts[4] != "claim":
        return StudyIdentity(parts[0], parts[1], parts[2], parts[3], variant=parts[4])
    return None
