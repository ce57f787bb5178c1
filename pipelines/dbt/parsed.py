"""The semantic manifest `dbt parse` wrote, kept between questions so that `metricsync query` parses
the project only when something it is made from changed.

A copy is kept in dbt's target folder of the project (`project.py`: `.metricsync/dbt/target/` for
the packaged project, the own copy's `transform/target/`), in `semantic-cache/<key>.json`, the key
a hash of every file of the project (dbt's own output left out), the versions of dbt and
MetricFlow, and the target: the generated profile (destination, database; the password is an
`env_var` reference, never its value) and the `--vars` (schemas, the clock's shift). A copy that
does not read back whole is parsed again, never trusted.

    cache = ParsedCache(project, fingerprint(project, profile, variables))
    manifest = cache.read()           # None: parse, then cache.write(text)
"""

import json
import logging
from typing import Any, Optional

from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
from metricsync.dbt.kept import FOLDER, digest_of, keep, project_digest
from metricsync.dbt.project import DbtProject, shown

logger = logging.getLogger("metricsync.query")

KEPT = 8  # copies kept (one per target and project version): the oldest beyond are removed


def fingerprint(project: DbtProject, profile: dict, variables: dict) -> str:
    """The key of one parse: the project's files, the packages' versions, the profile and the vars."""
    return digest_of([project_digest(project), profile, variables])


class ParsedCache:
    """One project's kept semantic manifests, one file per key."""

    def __init__(self, project: DbtProject, key: str) -> None:
        self.key = key
        self.path = project.target / FOLDER / f"{key}.json"

    def read(self) -> Optional[Any]:
        """The kept manifest of this key, or None (none kept, or one that does not read back whole)."""
        if not self.path.is_file():
            return None
        try:
            kept = json.loads(self.path.read_text())
            if kept.get("key") != self.key:
                raise ValueError(f"it holds key {kept.get('key')}")
            manifest = parse_manifest_from_dbt_generated_manifest(json.dumps(kept["semantic_manifest"]))
        except Exception as exc:
            logger.warning(
                "query: the kept parse %s is unreadable (%s) - parsing the project again", shown(self.path), exc
            )
            return None
        logger.debug("query: the project as parsed before, from %s", shown(self.path))
        return manifest

    def write(self, text: str) -> None:
        """Keep `text` (semantic_manifest.json) under this key, written whole or not at all."""
        keep(self.path, {"key": self.key, "semantic_manifest": json.loads(text)}, KEPT)
        logger.debug("query: the parsed project kept in %s", shown(self.path))
