"""The report's one HTML file (`page.html.j2`, jinja2, escaped): inline CSS, inline SVG, no script, no link to
anything, so it opens from a file, an email attachment or any static host."""

from pathlib import Path
from typing import Any

import jinja2

TEMPLATE = Path(__file__).with_name("page.html.j2")  # package data (setup.py)


def when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else ""


def render(**context: Any) -> str:

    environment = jinja2.Environment(autoescape=True)
    environment.filters["when"] = when
    return environment.from_string(TEMPLATE.read_text(encoding="utf-8")).render(**context)
