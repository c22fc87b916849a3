{{ config(materialized='incremental', unique_key='employee_id', incremental_strategy='delete+insert') }}

-- The latest version of each employee (see the latest_version macro).

{{ latest_version('bronze_employees', 'employee_id') }}
