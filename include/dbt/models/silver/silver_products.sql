{{ config(materialized='incremental', unique_key='product_id', incremental_strategy='delete+insert') }}

-- Latest version of each product: a daily run reads only the versions extracted in its window
-- and merges them with what silver holds, so a backfilled old version never overwrites a newer one.

with

bronze_products as (

    select * from {{ ref('bronze_products') }}
    {% if is_incremental() %}
        where extracted_at >= {{ extracted_since() }}
    {% endif %}

),

candidates as (

    select * from bronze_products
    {% if is_incremental() %}
        union all
        select * from {{ this }}
        where product_id in (select b.product_id from bronze_products as b)
    {% endif %}

),

final as (

    select distinct on (product_id) *
    from candidates
    order by product_id asc, updated_at desc, extracted_at desc

)

select * from final
