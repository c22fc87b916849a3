-- Reconciliation of one data day's daily marts against silver.sales (the gate's `reconcile_gold`
-- suite): gold.daily_sales, gold.daily_product_sales per product and gold.daily_seller_sales per
-- seller hold the counts and sums silver's sales of the day add up to, computed as the models
-- compute them (the product mart's without-outlier columns from silver's is_value_outlier). A
-- row of silver's side that gold lacks, a gold row silver has no sales for, or any differing
-- figure is a problem. One row per problem: the mart, its key (null for the day's totals) and
-- both sides' figures (null for the side that has no row).
with

silver_day as (

    select
        silver_sales.product_id,
        silver_sales.seller_id,
        silver_sales.customer_id,
        silver_sales.quantity,
        silver_sales.sale_value,
        silver_sales.is_value_outlier
    from silver.sales as silver_sales
    where silver_sales.sale_date = %(day)s::date

),

silver_totals as (

    select
        %(day)s::date as sale_date,
        sum(silver_day.sale_value)::numeric(14, 2) as revenue,
        sum(silver_day.quantity)::bigint as items_sold,
        count(*)::bigint as sales_count,
        count(distinct silver_day.product_id)::bigint as distinct_products,
        count(distinct silver_day.customer_id)::bigint as distinct_customers
    from silver_day
    having count(*) > 0

),

gold_totals as (

    select
        daily_sales.sale_date,
        daily_sales.revenue,
        daily_sales.items_sold,
        daily_sales.sales_count,
        daily_sales.distinct_products,
        daily_sales.distinct_customers
    from gold.daily_sales as daily_sales
    where daily_sales.sale_date = %(day)s::date

),

silver_products as (

    select
        silver_day.product_id,
        sum(silver_day.sale_value)::numeric(14, 2) as revenue,
        sum(silver_day.quantity)::bigint as items_sold,
        count(*)::bigint as sales_count,
        sum(silver_day.sale_value) filter (where not silver_day.is_value_outlier)::numeric(14, 2)
            as revenue_without_outliers,
        count(*) filter (where not silver_day.is_value_outlier)::bigint as sales_without_outliers
    from silver_day
    group by silver_day.product_id

),

gold_products as (

    select
        daily_product_sales.product_id,
        daily_product_sales.revenue,
        daily_product_sales.items_sold,
        daily_product_sales.sales_count,
        daily_product_sales.revenue_without_outliers,
        daily_product_sales.sales_without_outliers
    from gold.daily_product_sales as daily_product_sales
    where daily_product_sales.sale_date = %(day)s::date

),

silver_sellers as (

    select
        silver_day.seller_id,
        sum(silver_day.sale_value)::numeric(14, 2) as revenue,
        sum(silver_day.quantity)::bigint as items_sold,
        count(*)::bigint as sales_count
    from silver_day
    group by silver_day.seller_id

),

gold_sellers as (

    select
        daily_seller_sales.seller_id,
        daily_seller_sales.revenue,
        daily_seller_sales.items_sold,
        daily_seller_sales.sales_count
    from gold.daily_seller_sales as daily_seller_sales
    where daily_seller_sales.sale_date = %(day)s::date

)

select
    'daily_sales' as mart,
    null::bigint as natural_key,
    jsonb_build_object('gold', to_jsonb(gold_totals), 'silver', to_jsonb(silver_totals)) as detail
from silver_totals
full outer join gold_totals on silver_totals.sale_date = gold_totals.sale_date
where
    (
        silver_totals.revenue, silver_totals.items_sold, silver_totals.sales_count,
        silver_totals.distinct_products, silver_totals.distinct_customers
    ) is distinct from (
        gold_totals.revenue, gold_totals.items_sold, gold_totals.sales_count,
        gold_totals.distinct_products, gold_totals.distinct_customers
    )

union all

select
    'daily_product_sales' as mart,
    coalesce(silver_products.product_id, gold_products.product_id) as natural_key,
    jsonb_build_object('gold', to_jsonb(gold_products), 'silver', to_jsonb(silver_products)) as detail
from silver_products
full outer join gold_products on silver_products.product_id = gold_products.product_id
where
    (
        silver_products.revenue, silver_products.items_sold, silver_products.sales_count,
        silver_products.revenue_without_outliers, silver_products.sales_without_outliers
    ) is distinct from (
        gold_products.revenue, gold_products.items_sold, gold_products.sales_count,
        gold_products.revenue_without_outliers, gold_products.sales_without_outliers
    )

union all

select
    'daily_seller_sales' as mart,
    coalesce(silver_sellers.seller_id, gold_sellers.seller_id) as natural_key,
    jsonb_build_object('gold', to_jsonb(gold_sellers), 'silver', to_jsonb(silver_sellers)) as detail
from silver_sellers
full outer join gold_sellers on silver_sellers.seller_id = gold_sellers.seller_id
where
    (silver_sellers.revenue, silver_sellers.items_sold, silver_sellers.sales_count)
    is distinct from (gold_sellers.revenue, gold_sellers.items_sold, gold_sellers.sales_count)

order by mart, natural_key
