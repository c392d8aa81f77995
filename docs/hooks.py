"""MkDocs hook: every ``<!-- generated: NAME -->`` marker of a page becomes the table ``bench.reports.docs_numbers`` renders
from the committed files, so the site's figures are the ones the code wrote."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's bench, whatever an editable install elsewhere points at

from bench.reports.docs_numbers import render  # noqa: E402


def on_page_markdown(markdown: str, page, config, files) -> str:
    return render(markdown, ROOT)
