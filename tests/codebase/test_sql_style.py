"""The dbt project's SQL style (`.sqlfluff`, run by `make lint`): the fix command docs/development.md
shows, run as written in a copy of the repository's project, rewrites a model written against the
rules and leaves every committed model as it is (they are clean)."""

import shutil
import subprocess
import sys
from pathlib import Path

from support import ROOT

BIN = Path(sys.executable).parent
MISSTYLED = """SELECT Account, COUNT(*) FROM {{ ref('fct_mrr_monthly') }} m GROUP BY Account
"""
FIXED = """select
    account,
    count(*)
from {{ ref('fct_mrr_monthly') }}
group by account
"""  # keywords and names lowercased, one select target a line, the unused alias dropped


def test_the_documented_sqlfluff_fix_restyles_a_model_and_leaves_the_committed_ones(tmp_path):
    shutil.copytree(ROOT / "transform", tmp_path / "transform", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(ROOT / ".ci" / "sqlfluff", tmp_path / ".ci" / "sqlfluff")
    shutil.copy(ROOT / ".sqlfluff", tmp_path / ".sqlfluff")
    model = tmp_path / "transform" / "models" / "marts" / "my_accounts.sql"
    model.write_text(MISSTYLED)
    command = (ROOT / "docs" / "development.md").read_text().split(".venv/bin/sqlfluff ")[1].split("\n")[0].split()
    assert command == ["fix", "transform/models", "transform/tests"]  # as the page shows it
    done = subprocess.run([str(BIN / "sqlfluff"), *command], cwd=tmp_path, capture_output=True, text=True, timeout=280)
    assert "my_accounts.sql] FIXED" in done.stdout, done.stdout + done.stderr
    assert model.read_text() == FIXED
    changed = [
        str(path.relative_to(tmp_path))
        for folder in ("models", "tests")
        for path in (tmp_path / "transform" / folder).rglob("*.sql")
        if path != model and path.read_text() != (ROOT / path.relative_to(tmp_path)).read_text()
    ]
    assert changed == []
