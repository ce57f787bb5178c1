"""dbt and MetricFlow on the warehouse the runner loads, below the commands `transform` and `query`:

* `project.py`: which dbt project runs (`transform/`) and where its artifacts go;
* `profiles.py`: the dbt profile generated from the runner's dlt destination credentials;
* `invocation.py`: dbt commands run in this process, their failures as one line per node;
* `publish.py`: write-audit-publish of the marts;
* `build.py`: `run_transform`, the build, its lock, the publish and the freshness check;
* `semantic.py`: the semantic manifest and the MetricFlow engine `query` asks, through dbt's adapter;
* `questions.py`: a question compiled by MetricFlow into SQL from the semantic manifest alone;
* `parsed.py`: the parse kept between questions; `kept.py`: each question's SQL and its context kept,
  so that a question asked before runs without dlt, dbt or MetricFlow (`warm.py`).
"""
