"""Transform: the dbt bronze/silver/gold models (include/dbt), as Cosmos renders them.

`window` decides which day partitions a run rebuilds (late data included); `dbt_docs` publishes
the dbt documentation site. The Cosmos task-group configuration is orchestration
(`liftoff.orchestration.cosmos_config`), since it imports Airflow.
"""
