{{
    config(
        indexes=table_indexes([{'columns': ['category', 'category_rank'], 'unique': True}]),
    )
}}

-- Cross-sell input: per category, products ranked by number of sales (sale rows) over the
-- 3 calendar months ending with the logical date D, D included: D - 3 months < sale_date <= D
-- (for D = 2026-06-10: 2026-03-11 to 2026-06-10). Ties: more revenue first, then the lower
-- product id. The same days "never bought" and the recent-purchase window see (both include D).
-- The unique index: one product per rank of a category, and the order the audience reads a
-- category's products in, best first (gold_cross_sell_audience stops at the first it may offer).
-- An index, not a primary key constraint: dbt builds the table beside the old one and renames it,
-- and a constraint's index would keep the temporary table's name.

with

daily_product_sales as (

    select * from {{ ref('gold_daily_product_sales') }}
    where
        sale_date > {{ dbt.cast(dbt.dateadd('month', -3, logical_date()), 'date') }}
        and sale_date <= {{ logical_date() }}

),

totals as (

    select
        category,
        product_id,
        product_name,
        sum(sales_count)::bigint as sales_count,
        sum(revenue)::numeric(14, 2) as revenue
    from daily_product_sales
    group by category, product_id, product_name

),

final as (

    select
        *,
        row_number() over (
            partition by category order by sales_count desc, revenue desc, product_id asc
        )::integer as category_rank
    from totals

)

select * from final
