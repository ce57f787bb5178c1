"""The wheel, installed outside the repository: built from a copy of the source tree, installed into
a fresh virtualenv in a temporary folder, and run from there as a new user would - `init`, `check`,
`run`, `transform`, `query`, `verify`, `status` - against the sandbox.

In `make test` the wheel is installed with `--no-deps` and the dependencies are those of the
project's venv, made visible by a `.pth` file (a folder a `.pth` adds is not a site dir, so the
project's editable install there is not activated: metricsync is imported from the fresh venv's
own site-packages, which the test asserts). `make test-wheel` (METRICSYNC_WHEEL_INSTALL=full)
installs the wheel with its dependencies resolved by pip into the fresh venv instead.
"""

import datetime as dt
import json
import os
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path

import duckdb
import pytest
from support import ROOT, today
from support.processes import run_command

FULL = os.environ.get("METRICSYNC_WHEEL_INSTALL") == "full"
NOT_SOURCE = (".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis")
NOT_SOURCE += ("target", "logs", "dbt_packages", ".metricsync", "*.duckdb*", ".env", "secrets.toml", "results")
SERIES = "Checkout Revenue"  # a Statsig metric of the sandbox, one value per unit type and day

pytestmark = pytest.mark.timeout(900)  # a dbt build and a MetricFlow start in child processes, on a shared machine


def call(command: list, **popen) -> None:
    done = run_command(command, timeout=600, capture_output=True, text=True, **popen)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def install_block() -> list[str]:
    """The commands of docs/getting-started.md's "Install": build the wheel, make a venv, install."""
    text = (ROOT / "docs" / "getting-started.md").read_text()
    return text[text.index("## Install") :].split("```sh\n")[1].split("```")[0].strip().splitlines()


def build_wheel(folder: Path, build: str) -> Path:
    """The wheel of a copy of the source tree, built as the docs say (nothing written into the repository)."""
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    call(["bash", "-ec", build], cwd=source, env=env)
    (wheel,) = (source / "dist").glob("metricsync-*.whl")
    return wheel


def install(wheel: Path, folder: Path, commands: list[str]) -> Path:
    """A fresh venv in `folder` with the wheel: its `bin`. Fully (`make test-wheel`): the docs'
    commands as written, `~` being `folder`; else the wheel alone, its dependencies the project venv's."""
    venv = folder / "metricsync-venv"
    if FULL:  # pip resolves and installs every dependency into the fresh venv
        env = {
            **os.environ,
            "HOME": str(folder),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        call(["bash", "-ec", "\n".join(commands)], cwd=wheel.parent.parent, env=env)
        return venv / "bin"
    python = venv / "bin" / "python"
    call([sys.executable, "-m", "venv", "--without-pip", venv])
    call([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel])
    site = run_command(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}  # the project venv's
    Path(site, "metricsync_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return venv / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the fresh venv's bin, the wheel)."""
    folder = tmp_path_factory.mktemp("wheel")
    build, *commands = install_block()
    wheel = build_wheel(folder, build)
    return install(wheel, folder, commands), wheel


def test_the_wheel_ships_one_import_name_and_the_dbt_project(installed):
    _bin, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"metricsync", "metricsync-0.1.0.dist-info"}
    for shipped in ("dbt_project.yml", "models/semantic/_metrics.yml", "seeds/stripe_currencies.csv"):
        assert f"metricsync/transform/{shipped}" in names
    assert not [n for n in names if n.startswith(("metricsync/transform/target/", "metricsync/transform/logs/"))]


def metricsync_env(bin_dir: Path, sandbox) -> dict:
    """A user's shell: the venv's `metricsync` on PATH, nothing of the repository's (PYTHONPATH, dbt paths)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DBT_TARGET_PATH", "DBT_LOG_PATH")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", SOURCES__STATSIG__BASE_URL=sandbox.url)
    return env


def files_of(package: Path) -> set:
    return {p for p in package.rglob("*") if "__pycache__" not in p.parts}


def test_every_command_works_from_a_folder_outside_the_repository(installed, sandbox, isolated):
    bin_dir, _wheel = installed
    env = metricsync_env(bin_dir, sandbox)
    where = run_command(
        ["python", "-c", "import sys, metricsync; print(metricsync.__file__, sys.meta_path)"],
        timeout=120,
        capture_output=True,
        text=True,
        env=env,
    )
    module, finders = where.stdout.split(" ", 1)
    package = Path(module).parent  # the fresh venv's own copy, the repository's editable finder not active
    assert package.is_relative_to(bin_dir.parent) and "__editable__" not in finders, where.stdout + where.stderr
    before = files_of(package)
    assert not isolated.is_relative_to(ROOT)

    def metricsync(*argv: str, cwd: Path) -> str:
        done = run_command(["metricsync", *argv], cwd=cwd, env=env, timeout=600, capture_output=True, text=True)
        assert done.returncode == 0, f"metricsync {' '.join(argv)}: {done.stdout}{done.stderr}"
        return done.stdout

    metricsync("init", "analytics", "--providers", "statsig", cwd=isolated)
    project = isolated / "analytics"
    secrets = project / ".dlt" / "secrets.toml"  # the printed step: put the API key in secrets.toml
    secrets.write_text(secrets.read_text().replace('api_key = ""', f'api_key = "{sandbox.by_name["statsig"].api_key}"'))

    dbt = f"dbt project {package / 'transform'} (packaged with metricsync), artifacts in .metricsync/dbt/target"
    checked = metricsync("check", "all", cwd=project).splitlines()
    assert checked[0].startswith("statsig: ok - key accepted") and checked[-1] == f"transform: ok - {dbt}", checked
    metricsync("run", "all", cwd=project)
    transformed = metricsync("transform", cwd=project)
    assert transformed.startswith("transform: ok - ") and transformed.rstrip().endswith(f"; {dbt}"), transformed
    assert (project / ".metricsync" / "dbt" / "target" / "run_results.json").exists()
    assert (project / ".metricsync" / "dbt" / "logs" / "dbt.log").exists()

    day = today() - dt.timedelta(days=1)  # a complete day
    answer = metricsync(
        "query",
        "statsig_value",
        "--where",
        f"series = '{SERIES}'",
        "--from",
        str(day),
        "--to",
        str(day),
        "--json",
        cwd=project,
    )
    truth = {r["unitType"]: r["value"] for r in sandbox.by_name["statsig"].values_for(day) if r["metricName"] == SERIES}
    assert {r["dimension_value"]: float(r["statsig_value"]) for r in json.loads(answer)} == truth
    with duckdb.connect(str(project / "metricsync.duckdb"), read_only=True) as conn:
        loaded = conn.execute(
            "select unit_type, value from statsig.metric_values where metric_name = ? and date = ?", [SERIES, day]
        ).fetchall()
    assert dict(loaded) == truth

    assert "0 periods drifted" in metricsync("verify", "all", cwd=project)
    status = metricsync("status", "statsig", cwd=project)
    assert f"dataset statsig in duckdb:{project / 'metricsync.duckdb'})" in status.splitlines()[0], status
    assert files_of(package) == before  # nothing written into the installed package
