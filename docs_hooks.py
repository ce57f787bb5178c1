"""MkDocs hook (mkdocs.yml `hooks`): pages kept outside `docs/` join the site under their
repository paths, so the same relative links work on GitHub and in the site: a page in `docs/`
links `../ARCHITECTURE.md` (GitHub's reading), rewritten here to the site's `ARCHITECTURE.md`;
`ARCHITECTURE.md` links `bench/RESULTS.md` as it stands.
"""

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).parent
OUTSIDE = ("ARCHITECTURE.md", "bench/RESULTS.md")
UP_LINK = re.compile(r"\]\(\.\./(" + "|".join(re.escape(path) for path in OUTSIDE) + r")([#)])")


def on_files(files: Files, config: Any) -> Files:
    for path in OUTSIDE:
        files.append(File.generated(config, path, abs_src_path=str(ROOT / path)))
    return files


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri in OUTSIDE:
        return markdown
    return UP_LINK.sub(r"](\1\2", markdown)
