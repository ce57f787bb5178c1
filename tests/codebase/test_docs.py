"""The manual (docs/, README.md as its front page, mkdocs.yml): the site builds strictly, with every
link and anchor checked, and a broken anchor fails the build; the README stays a front page; measured
figures live in bench/RESULTS.md, whose hand-written notes the bench keeps when it rewrites the tables.
"""

import os
import re
import shutil
import subprocess
import sys

from metricsync.bench.__main__ import NOTES, write_results
from support import ROOT

SITE_SOURCES = ("mkdocs.yml", "docs_hooks.py", "docs", "ARCHITECTURE.md", "bench/RESULTS.md")


def build(project, site) -> subprocess.CompletedProcess:
    """`make docs`'s command, on the project folder given, into `site`."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's notice of its successor, as `make docs`
    )


def copy_of_the_site_sources(tmp_path):
    project = tmp_path / "project"
    for name in SITE_SOURCES:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, project / name)
    return project


def test_make_docs_builds_the_site_strictly(tmp_path):
    assert re.search(r"^docs: .*\n\t\$\(VENV\)/bin/mkdocs build --strict", (ROOT / "Makefile").read_text(), re.M)
    done = build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    # the pages kept outside docs/ are in the site under their repository paths, linked from the manual
    for page in ("index.html", "commands/index.html", "ARCHITECTURE/index.html", "bench/RESULTS/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    benchmark = (tmp_path / "site" / "benchmark" / "index.html").read_text()
    assert 'href="../bench/RESULTS/#re-loading-a-big-window-2026-12-07"' in benchmark
    # GitHub's slugs: a heading made of a command line keeps its dashes
    commands = (tmp_path / "site" / "commands" / "index.html").read_text()
    assert 'id="init-dir---providers-p---with-dbt---force-start-a-project"' in commands


def test_a_missing_anchor_or_page_fails_the_build(tmp_path):
    project = copy_of_the_site_sources(tmp_path)
    page = project / "docs" / "operations.md"
    page.write_text(page.read_text() + "\nSee [verify](commands.md#no-such-heading) and [gone](gone.md).\n")
    done = build(project, tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-heading" in done.stderr and "gone.md" in done.stderr, done.stderr


def test_the_readme_is_a_front_page_pointing_at_every_page_of_the_manual():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name != "index.md")
    linked = re.findall(r"\]\(docs/([a-z-]+\.md)\)", readme)
    assert sorted(set(linked) - {"index.md"}) == pages and "index.md" in linked
    for command in ("make demo", "make test"):
        assert f"\n{command}" in readme, command


def test_measured_dated_figures_are_only_in_bench_results():
    """A page of the manual may show an example's timestamps, not a dated measurement."""
    dated = re.compile(r"\b(measured|took|ran)\b[^.|]{0,80}\b20\d\d-\d\d-\d\d", re.I)
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        found = dated.findall(page.read_text())
        assert found == [], (page.name, found)


def test_the_bench_rewrites_the_tables_and_keeps_the_notes(tmp_path):
    committed = (ROOT / "bench" / "RESULTS.md").read_text()
    assert committed.count(NOTES) == 1
    notes = committed[committed.index(NOTES) :]
    path = tmp_path / "RESULTS.md"
    path.write_text(committed)
    write_results(str(path), "# metricsync benchmark\n\nnew tables\n")
    assert path.read_text() == "# metricsync benchmark\n\nnew tables\n\n" + notes


def test_the_documented_test_command_is_the_makefiles():
    """docs/development.md's description of `make test` (its pytest options and worker count) is the
    Makefile's recipe with `TEST_WORKERS`' default, so a change to either shows here."""
    makefile = (ROOT / "Makefile").read_text()
    workers = re.search(r"^TEST_WORKERS \?= (\d+)$", makefile, re.M).group(1)
    recipe = re.search(r"^test: .*\n\t\$\(PY\) -m pytest (.+)$", makefile, re.M).group(1)
    options = recipe.replace("$(TEST_WORKERS)", workers).replace("-q ", "")
    page = " ".join((ROOT / "docs" / "development.md").read_text().split())
    assert f"`make test` runs everything, in {workers} processes (pytest-xdist: `{options}`" in page, options
