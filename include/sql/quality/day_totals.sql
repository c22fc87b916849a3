-- The logical day's totals in gold against the same weekday of the four weeks before: stores sell
-- more on Saturdays than on Sundays, so like is compared with like. Ratios are null until two
-- reference days exist (a new warehouse has no "usual" yet).
with

recent_days as (

    select
        sale_date,
        sales_count,
        revenue
    from gold.daily_sales
    where sale_date between %(day)s::date - 28 and %(day)s::date - 1

),

usual as (

    select
        count(*) as reference_days,
        percentile_cont(0.5) within group (order by sales_count) as sales_count,
        percentile_cont(0.5) within group (order by revenue) as revenue,
        percentile_cont(0.5) within group (order by revenue / nullif(sales_count, 0)) as average_ticket
    from recent_days
    where extract(isodow from sale_date) = extract(isodow from %(day)s::date)

),

today as (

    select
        sales_count,
        revenue
    from gold.daily_sales
    where sale_date = %(day)s::date

),

latest as (

    select max(sale_date) as sale_date from silver.sales

)

select
    usual.reference_days,
    coalesce(today.sales_count, 0) as sales_count,
    coalesce(today.revenue, 0) as revenue,
    today.revenue / nullif(today.sales_count, 0) as average_ticket,
    case when usual.reference_days >= 2 then coalesce(today.sales_count, 0) / usual.sales_count end
        as sales_count_vs_usual,
    case when usual.reference_days >= 2 then coalesce(today.revenue, 0) / usual.revenue end
        as revenue_vs_usual,
    case
        when usual.reference_days >= 2
            then today.revenue / nullif(today.sales_count, 0) / usual.average_ticket
    end as average_ticket_vs_usual,
    %(day)s::date - latest.sale_date as days_behind_latest_sale
from usual
cross join latest
left join today on true
