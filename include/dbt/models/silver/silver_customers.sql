{{ config(materialized='incremental', unique_key='customer_id', incremental_strategy='delete+insert') }}

-- Latest version of each customer: a daily run reads only the versions extracted in its window
-- and merges them with what silver holds, so a backfilled old version never overwrites a newer one.

with

bronze_customers as (

    select * from {{ ref('bronze_customers') }}
    {% if is_incremental() %}
        where extracted_at >= {{ extracted_since() }}
    {% endif %}

),

candidates as (

    select * from bronze_customers
    {% if is_incremental() %}
        union all
        select * from {{ this }}
        where customer_id in (select b.customer_id from bronze_customers as b)
    {% endif %}

),

final as (

    select distinct on (customer_id) *
    from candidates
    order by customer_id asc, updated_at desc, extracted_at desc

)

select * from final
