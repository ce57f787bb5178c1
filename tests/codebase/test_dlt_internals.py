"""The dlt internals metricsync reaches into (ARCHITECTURE.md, "What we take from dlt") keep the
shape the patches rely on: a dlt release that renames, moves or re-signs one fails here, by name,
rather than as a slower run or a patch that silently does nothing. Read with `inspect` from dlt
as installed; nothing of ours is run, so the answers are dlt's own.
"""

import importlib
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import dlt
from dlt.common import libs as dlt_libs
from dlt.common import validation
from dlt.common.configuration import resolve
from dlt.common.configuration.providers import environ
from dlt.common.configuration.specs import base_configuration
from dlt.common.destination import Destination
from dlt.common.schema.utils import pipeline_state_table
from dlt.common.versioned_state import compress_state, decompress_state, generate_state_version_hash
from dlt.destinations.impl.duckdb import configuration as duckdb_configuration
from dlt.extract import decorators
from dlt.extract.source import DltSource
from metricsync.batched import STATE_COLUMNS, STATE_TABLE
from packaging.requirements import Requirement
from support import ROOT


def _parameters(function) -> list[str]:
    return list(inspect.signature(inspect.unwrap(function)).parameters)


def test_installed_dlt_is_in_the_pinned_range():
    """The pin in pyproject.toml is a minor release (what the tests ran), and it is what is installed."""
    (line,) = re.findall(r'^ *"(dlt\[[^"]*)",', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    pin = Requirement(line)
    assert str(pin.specifier) in (">=1.31,<1.32", "<1.32,>=1.31"), pin
    assert version("dlt") in pin.specifier


def test_the_hint_checks_hints_py_remembers_have_their_signatures():
    """`pipelines/hints.py` wraps `is_secret_hint(hint)` and `extract_inner_hint(hint, 3 flags)`,
    passing every argument on by position."""
    assert _parameters(base_configuration.is_secret_hint) == ["hint"]
    assert _parameters(base_configuration.extract_inner_hint) == [
        "hint",
        "preserve_new_types",
        "preserve_literal",
        "preserve_annotated",
    ]


def test_the_modules_hints_py_patches_call_the_checks_by_their_global_name():
    """The patch replaces module globals: each module must look the function up there (imported by
    name, and called in its source), else the remembered answers are never used."""
    for module, name in (
        (base_configuration, "is_secret_hint"),
        (resolve, "is_secret_hint"),
        (environ, "is_secret_hint"),
        (base_configuration, "extract_inner_hint"),
        (resolve, "extract_inner_hint"),
    ):
        assert callable(getattr(module, name, None)), (module.__name__, name)
        source = inspect.getsource(module).replace(f"def {name}(", "")
        assert f"{name}(" in source, (module.__name__, name)


def test_the_destination_factory_has_what_destinations_py_replaces():
    """`cache_capabilities` replaces `factory.capabilities(config=None, naming=None)`, and
    `one_connection` swaps `factory.config_params["credentials"]` for an open DuckDB connection
    (dlt's external-connection mode)."""
    assert _parameters(Destination.capabilities) == ["self", "config", "naming"]
    assert "config_params" in inspect.getsource(Destination.__init__)
    assert "DuckDBPyConnection" in inspect.getsource(duckdb_configuration)
    assert "_external_conn" in inspect.getsource(duckdb_configuration)


def test_dlt_url_port_offers_what_its_sqlalchemy_compat_module_does():
    """`UrlCompat` stands in for `dlt.common.libs.sql_alchemy_compat`, answering from
    `sql_alchemy_shims`: the names dlt imports from the one must be in the other."""
    # its file, not the module: a run earlier in this process may have put `UrlCompat` in its place
    compat = (Path(dlt_libs.__file__).parent / "sql_alchemy_compat.py").read_text()
    shims = importlib.import_module("dlt.common.libs.sql_alchemy_shims")
    assert "from dlt.common.libs.sql_alchemy_shims import URL, make_url" in compat
    assert callable(shims.make_url) and hasattr(shims, "URL")


def test_the_state_rows_batched_py_writes_have_dlt_s_shape():
    """`pipelines/batched.py` writes each account's state as a row of dlt's state table (as dlt's own
    load would) and reads it back as dlt does: the table's columns, the compression round trip and
    the version hash over the state without its hash must be what it writes."""
    table = pipeline_state_table(add_dlt_id=True)
    assert table["name"] == STATE_TABLE
    assert tuple(table["columns"]) == STATE_COLUMNS
    state = {"_state_version": 3, "_state_engine_version": 4, "pipeline_name": "p", "sources": {"s": {"a": [1]}}}
    assert decompress_state(compress_state(state)) == state
    hashed = generate_state_version_hash(state)
    assert hashed == generate_state_version_hash({**state, "_version_hash": "anything"})
    assert hashed != generate_state_version_hash({**state, "sources": {"s": {"a": [2]}}})


def test_validate_dict_asks_get_type_hints_by_its_global_name():
    """`pipelines/hints.py` keeps `get_type_hints` per class in `dlt.common.validation`: the
    module must look it up there, asking in the class's own module's namespace."""
    source = inspect.getsource(validation.validate_dict)
    assert "get_type_hints(" in source and "sys.modules[spec.__module__].__dict__" in source
    assert callable(validation.get_type_hints)


def test_the_source_decorator_calls_its_function_as_source_again_does():
    """`shared.source_again` calls a source function again as dlt's `@dlt.source` wrapper does:
    inside the source's schema context and its config section (`sources.<section>.<name>`, the
    state key the schema's name), then a `DltSource` of the schema, section and resources."""
    wrapper = inspect.getsource(decorators.DltSourceFactoryWrapper._wrap)
    for part in (
        "SourceSchemaInjectableContext(schema_copy)",
        "ConfigSectionContext(",
        "sections=source_sections",
        "source_state_key=schema_copy.name",
        "(known_sections.SOURCES, source_section, effective_name)",
        "from_data(schema_copy, source_section, _rv)",
    ):
        assert part in wrapper, part
    assert _parameters(DltSource.__init__) == ["self", "schema", "section", "resources"]


def test_a_resource_given_a_spec_builds_none_from_its_signature():
    """`NoSettings` is given to `dlt.resource` as `spec`, so dlt takes it instead of building a
    spec class from the function's signature (`spec_from_signature`)."""
    source = inspect.getsource(decorators.resource)
    assert "if spec is None:" in source and "spec_from_signature(" in source
    assert "spec.get_resolvable_fields()" in source


def test_a_resource_pipe_holds_its_function_until_extracted():
    """`pipelines/together.py` calls each account's resource function from its pipe's `gen`, as
    dlt's `Pipe.evaluate_gen` does when it extracts (a resource of a source takes no arguments)."""
    from dlt.extract.pipe import Pipe

    def rows():
        yield [{"x": 1}]

    assert dlt.resource(rows, name="rows")._pipe.gen is not None
    assert "self.replace_gen(gen())" in inspect.getsource(Pipe.evaluate_gen)
    assert list(dlt.resource(rows, name="rows")._pipe.gen()) == [[{"x": 1}]]
