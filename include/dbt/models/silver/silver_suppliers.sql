{{ config(materialized='incremental', unique_key='supplier_id', incremental_strategy='delete+insert') }}

-- Latest version of each supplier: a daily run reads only the versions extracted in its window
-- and merges them with what silver holds, so a backfilled old version never overwrites a newer one.

with

bronze_suppliers as (

    select * from {{ ref('bronze_suppliers') }}
    {% if is_incremental() %}
        where extracted_at >= {{ extracted_since() }}
    {% endif %}

),

candidates as (

    select * from bronze_suppliers
    {% if is_incremental() %}
        union all
        select * from {{ this }}
        where supplier_id in (select b.supplier_id from bronze_suppliers as b)
    {% endif %}

),

final as (

    select distinct on (supplier_id) *
    from candidates
    order by supplier_id asc, updated_at desc, extracted_at desc

)

select * from final
