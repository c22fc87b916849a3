{{ config(materialized='incremental', unique_key='supplier_id', incremental_strategy='delete+insert') }}

-- The latest version of each supplier (see the latest_version macro).

{{ latest_version('bronze_suppliers', 'supplier_id') }}
