"""The demo's results as one self-contained Chinese HTML page.

:func:`render_report` turns the results of ``yibao demo`` (a JSON-like dict; the shape is
shown by :func:`yibao.report.sample.sample_data`) into a single HTML document: inline CSS,
inline SVG charts, no scripts, no fonts or images to fetch, so it opens offline and prints
on A4. :func:`write_report` writes it to a file.

A missing figure is shown as ``—`` and a missing section as "无数据"; a field of the wrong
type raises :class:`~yibao.errors.InputError` naming its dotted path. Person identifiers are
masked again whatever arrives, and as a last guard every ID-number-shaped run in the page is
masked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from yibao.report.page import build_page
from yibao.store.pii import mask_certnos_in

__all__ = ["render_report", "write_report"]

TEMPLATE = "report.html.j2"


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("yibao.report", "templates"),
        autoescape=True,  # the template is HTML whatever its file name; every value is escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(data: Mapping[str, object]) -> str:
    """The page for the demo's results ``data``; raises ``InputError`` on a malformed field."""
    page = build_page(data)
    html = _environment().get_template(TEMPLATE).render(page=page)
    return mask_certnos_in(html)


def write_report(data: Mapping[str, object], path: Path) -> Path:
    """Render ``data`` and write the page to ``path`` (UTF-8), replacing it atomically; returns ``path``.

    Nothing is written when the data is malformed.
    """
    html = render_report(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(html, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
