"""The built-in dataset files: where each comes from, its licence and its expected SHA-256.

``python -m bench data`` lists the files a selection needs, whether each is present in the data directory,
and whether its SHA-256 is the expected one, so a user outside this repository's CI knows what to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.data.datafiles import data_path


@dataclass(frozen=True)
class DataFile:
    """One built-in dataset file, as published (see the data directory's README)."""

    filename: str
    sha256: str
    rows: int
    source: str
    licence: str


_SOTITLE = "SOTitle corpus, github.com/NTDXYG/SOTitle"
BUILTIN_FILES = {
    f.filename: f
    for f in [
        DataFile(
            "bbc_text.csv.gz",
            "ffed6d0963d58ff8f7117d14b50a41e7f5321bda1b70cfdc5382cd84de926b16",
            2_225,
            "Greene & Cunningham, ICML 2006, mlg.ucd.ie/datasets/bbc.html",
            "articles (c) BBC, research use",
        ),
        DataFile(
            "so_2008.csv.gz",
            "085d4de0bf476f3810c7594c190644f4f2f13ca7e3b059da268b8498ab61b202",
            6_075,
            "Stack Overflow dump sample, github.com/JMLizano/StackOverflow-Question-Tagging",
            "CC BY-SA",
        ),
        DataFile(
            "so_lang4.csv.gz",
            "d1239c58491a8c166a346bc5206ba611e06f921c7bdc726998a62ba3218d7b2e",
            20_000,
            _SOTITLE,
            "MIT (corpus); CC BY-SA (posts)",
        ),
        DataFile(
            "so_lang4_titles.csv.gz",
            "df75f032b0da5e58d9bf48e67b73b243cce54cb5cdf7f04c586fc0de87d8f357",
            240_000,
            _SOTITLE,
            "MIT (corpus); CC BY-SA (posts)",
        ),
        DataFile(
            "so_tags100_titles.tsv.gz",
            "03bbfb68def4eef0ad4b4dd360a040fa3c9eca71221e1c9e2cb91b6211615c3d",
            50_494,
            "github.com/luiscruz/remla-baseline-project and harshp123/tag-prediction",
            "CC BY-SA",
        ),
        DataFile(
            "so_titles20.csv.gz",
            "df3a27bb20b6e32daad1ba4447482597afed98f1fb29ebd780a31a830f01a7a1",
            20_000,
            "Xu et al., NAACL VS-NLP 2015, github.com/jacoxu/StackOverflow",
            "CC BY-SA",
        ),
    ]
}
UNLABELLED_FILE = "so_lang4_titles.csv.gz"  # the pretraining corpus' extra titles and ``bench scale``'s data


@dataclass(frozen=True)
class FileStatus:
    """What ``bench data`` found for one file a selection needs."""

    filename: str
    needed_by: tuple[str, ...]
    required: bool  # a task reads it; otherwise it only adds text to the pretraining corpus
    path: Path
    present: bool
    sha256: str | None  # computed; None when the file is absent
    expected_sha256: str | None  # None for a file that is not built in

    @property
    def verdict(self) -> str:
        if not self.present:
            return "MISSING" if self.required else "absent (optional)"
        if self.expected_sha256 is None:
            return "present (not a built-in file: no expected checksum)"
        return "ok" if self.sha256 == self.expected_sha256 else "CHECKSUM MISMATCH"

    @property
    def ok(self) -> bool:
        return self.verdict.startswith(("ok", "present", "absent"))


def needed_files(tasks: list, pretraining: bool) -> dict[str, tuple[list[str], bool]]:
    """File -> (what needs it, whether a task requires it) for these task records.

    With ``pretraining`` (a selected backend pretrains on the corpus), every built-in file adds its training
    text to the corpus when present, so each is listed as optional unless a task reads it.
    """
    needs: dict[str, tuple[list[str], bool]] = {}
    for task in tasks:
        for filename in task.dataset.files.values():
            needs.setdefault(filename, ([], True))[0].append(f"task {task.name}")
    if pretraining:
        for filename in BUILTIN_FILES:
            needs.setdefault(filename, ([], False))[0].append("pretraining corpus")
    return needs


def check_files(needs: dict[str, tuple[list[str], bool]], data_dir: Path) -> list[FileStatus]:
    """Look for each needed file in ``data_dir`` (absolute names as they are) and hash the ones present."""
    from embeddings.cache import file_sha256

    found = []
    for filename, (users, required) in needs.items():
        path = data_path(data_dir, filename)
        present = path.is_file()
        known = BUILTIN_FILES.get(Path(filename).name)
        found.append(
            FileStatus(
                filename,
                tuple(users),
                required,
                path,
                present,
                file_sha256(path) if present else None,
                known.sha256 if known else None,
            )
        )
    return found


def report_lines(statuses: list[FileStatus], data_dir: Path) -> list[str]:
    """The lines ``bench data`` prints: one per file, then where each built-in file comes from."""
    lines = [f"data directory: {data_dir}"]
    width = max((len(s.filename) for s in statuses), default=10)
    for s in statuses:
        lines.append(f"  {s.filename:{width}s}  {s.verdict:18s}  needed by {', '.join(s.needed_by)}")
        if s.present and s.sha256 != s.expected_sha256 and s.expected_sha256:
            lines.append(f"  {'':{width}s}  expected sha256 {s.expected_sha256}, found {s.sha256}")
    sources = [BUILTIN_FILES[Path(s.filename).name] for s in statuses if Path(s.filename).name in BUILTIN_FILES]
    if sources:
        lines.append("where the built-in files come from:")
        lines += [f"  {f.filename}: {f.rows:,} rows; {f.source}; licence: {f.licence}" for f in sources]
    missing = [s for s in statuses if not s.ok]
    lines.append(
        f"{len(statuses) - len(missing)} of {len(statuses)} files ok"
        + (f"; fetch or fix: {', '.join(s.filename for s in missing)}" if missing else "")
    )
    return lines


def data_command(tasks: list, backends: list, data_dir: Path) -> int:
    """``python -m bench data``: print what the selection needs and what is there; 2 when a file is not ok."""
    from embeddings import get_backend

    pretraining = any(get_backend(b).pretrains for b in backends)
    statuses = check_files(needed_files(tasks, pretraining), data_dir)
    print("\n".join(report_lines(statuses, data_dir)))
    return 0 if all(s.ok for s in statuses) else 2
