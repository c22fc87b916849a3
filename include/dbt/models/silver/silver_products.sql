{{ config(materialized='incremental', unique_key='product_id', incremental_strategy='delete+insert') }}

-- The latest version of each product (see the latest_version macro).

{{ latest_version('bronze_products', 'product_id') }}
