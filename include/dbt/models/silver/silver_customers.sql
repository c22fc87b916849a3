{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['customer_id'], 'unique': True}],
    )
}}

-- The latest version of each customer (see the latest_version macro). The unique index keeps a
-- customer unique at an index probe per merged row, where a unique test scanned every customer on
-- every run, and it serves the merge's delete by key.

{{ latest_version('bronze_customers', 'customer_id') }}
