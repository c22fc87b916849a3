"""Ingest: CRM records from a source to the raw layer.

The path of a day's records: a source (the embedded `simulator` with its `dirty` data, the CRM API
through its Airbyte connector run by PyAirbyte in `airbyte_extract`, or a deployed Airbyte via
`airbyte_sync`) lands Parquet in the `landing` zone; `daily` runs the `loader`, which checks every
record against its contract, keeps one per key (`key_precedence`) and replaces the raw partition,
quarantining what fails with its reasons.
"""
