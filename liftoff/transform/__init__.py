"""Transform: dbt's bronze/silver/gold models rendered by Cosmos.

`cosmos_config` builds the Cosmos project/profile/render configuration, `window` decides which
day partitions a run rebuilds, `dbt_docs` publishes the dbt documentation site.
"""
