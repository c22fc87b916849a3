-- The original mart: how many products each supplier has in the catalog, by category.

with

suppliers as (

    select * from {{ ref('silver_suppliers') }}

),

products as (

    select * from {{ ref('silver_products') }}
    where created_at < {{ store_day_start(add_days(logical_date(), 1)) }}

),

final as (

    select
        suppliers.supplier_id,
        suppliers.company_name,
        count(products.product_id)::bigint as products,
        count(distinct products.category)::bigint as categories
    from suppliers
    left join products on suppliers.supplier_id = products.supplier_id
    group by suppliers.supplier_id, suppliers.company_name

)

select * from final
