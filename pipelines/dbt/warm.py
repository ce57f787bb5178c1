"""A question answered warm, from what `kept.py` keeps: its SQL as kept, else compiled by MetricFlow
from the kept parse (`questions.py`, imported only then), run through the warehouse's own driver.
Neither dlt nor dbt is imported; a question asked before imports no MetricFlow either.

    answered = answer(kept.Context("duckdb"), kept.question(args, first, last))   # None: ask through dbt
"""

import logging
from typing import Optional

from metricsync.dbt import kept
from metricsync.dbt.project import shown

logger = logging.getLogger("metricsync.query")


def answer(context: kept.Context, asked: dict) -> Optional[tuple[list[str], list[tuple]]]:
    """The answer without dlt or dbt when the context is kept: the question's SQL as kept, else
    compiled by MetricFlow from the kept parse; None when a cold question must answer (nothing
    kept, or the warehouse refused: the cold question says why)."""
    record = context.read()
    if record is None:
        return None
    compiled = kept.read_question(context.folder, record["parse_key"], asked)
    if compiled is None:
        from metricsync.dbt.questions import compile_kept  # noqa: PLC0415 - start-up time: a question asked before needs no MetricFlow

        compiled = compile_kept(context.project, record, asked)
        if compiled is None:
            return None
    else:
        logger.debug("query: the question as asked before, from %s", shown(context.folder / kept.QUESTIONS))
    logger.info("query: %s", compiled["sql"])
    try:
        return kept.run(record["connection"], compiled["sql"], compiled["keys"])
    except Exception as exc:  # e.g. the marts dropped: the cold question fails in its own words
        logger.debug("query: the kept question did not run (%s) - asking through dbt", exc)
        return None
