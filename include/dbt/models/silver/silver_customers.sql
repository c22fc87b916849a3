{{ config(materialized='incremental', unique_key='customer_id', incremental_strategy='delete+insert') }}

-- The latest version of each customer (see the latest_version macro).

{{ latest_version('bronze_customers', 'customer_id') }}
