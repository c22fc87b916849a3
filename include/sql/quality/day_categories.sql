-- Each established category (sold on at least 20 of the 28 days before the logical day) with its
-- sales that day and its average unit price against its usual one (the median of those days).
with

recent as (

    select
        category,
        sale_date,
        sum(sales_count) as sales_count,
        sum(revenue) / nullif(sum(items_sold), 0) as unit_price
    from gold.daily_product_sales
    where sale_date between %(day)s::date - 28 and %(day)s::date - 1
    group by category, sale_date

),

usual as (

    select
        category,
        count(*) as days_with_sales,
        avg(sales_count) as sales_count,
        percentile_cont(0.5) within group (order by unit_price) as unit_price
    from recent
    group by category

),

today as (

    select
        category,
        sum(sales_count) as sales_count,
        sum(revenue) / nullif(sum(items_sold), 0) as unit_price
    from gold.daily_product_sales
    where sale_date = %(day)s::date
    group by category

)

select
    usual.category,
    usual.days_with_sales,
    usual.sales_count as usual_sales_count,
    coalesce(today.sales_count, 0) as sales_count,
    today.unit_price / nullif(usual.unit_price, 0) as unit_price_vs_usual
from usual
left join today on usual.category = today.category
where usual.days_with_sales >= 20
order by usual.category
