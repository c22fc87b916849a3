-- Cross-sell input: each customer's most recent purchase up to the logical date (ties on the same
-- instant: the higher sale id), with the product and its category.

with

sales as (

    select * from {{ ref('silver_sales') }}
    where sale_date <= {{ logical_date() }}

),

products as (

    select * from {{ ref('silver_products') }}

),

latest as (

    select distinct on (customer_id)
        customer_id,
        sale_id,
        product_id,
        sale_date,
        sold_at
    from sales
    order by customer_id asc, sold_at desc, sale_id desc

),

final as (

    select
        latest.customer_id,
        latest.sale_id,
        latest.product_id,
        products.product_name,
        products.category,
        latest.sale_date,
        latest.sold_at
    from latest
    inner join products on latest.product_id = products.product_id

)

select * from final
