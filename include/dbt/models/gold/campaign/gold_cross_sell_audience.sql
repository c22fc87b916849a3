{{
    config(
        materialized='incremental',
        unique_key='audience_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- The cross-sell audience of data day D (the run's logical_date), stored under audience_date = D:
-- the one implementation of the campaign's rule (README, "Cross-sell campaign"). The campaign
-- reads these rows and nothing else; a rerun of the transform for D replaces exactly D's rows, so
-- a campaign for D can be read again later and reruns give the same rows.
--
-- * recent buyers: customers whose latest purchase up to the end of D (gold.customer_latest_purchase,
--   as of D) falls on D-2, D-1 or D, Brasília calendar days. Several purchases at the same latest
--   instant: the higher sale id wins (the latest-purchase mart's rule);
-- * category: that latest purchase's product's category;
-- * recommendation: among that category's products the customer never bought up to the end of D,
--   the one with the most sale rows over the 3 calendar months ending with D
--   (gold.category_best_sellers: D - 3 months < sale_date <= D); ties by revenue, then the lowest
--   product id (the mart's category_rank);
-- * one row per customer; excluded: customers opted out (campaign.consent_exclusions, every door
--   an opt-out comes in by) and customers without a reachable channel after consent (no e-mail
--   and no Telegram chat). Addresses stay in silver: gold is readable by the dashboard role, so
--   this model says only whether each channel is reachable.

with

latest_purchase as (

    select * from {{ ref('gold_customer_latest_purchase') }}
    where sale_date between {{ add_days(logical_date(), -2) }} and {{ logical_date() }}

),

best_sellers as (

    select * from {{ ref('gold_category_best_sellers') }}

),

products as (

    select * from {{ ref('silver_products') }}

),

customers as (

    select * from {{ ref('silver_customers') }}

),

consent as (

    select
        customer_id,
        {{ dbt.bool_or("channel in ('email', 'all')") }} as no_email,
        {{ dbt.bool_or("channel in ('telegram', 'all')") }} as no_telegram
    from {{ source('campaign', 'consent_exclusions') }}
    where customer_id is not null
    group by customer_id

),

telegram_links as (

    select * from {{ source('campaign', 'telegram_links') }}

),

recent_buyers as (

    select
        latest_purchase.customer_id,
        latest_purchase.sale_id as last_sale_id,
        latest_purchase.sale_date as last_sale_date,
        latest_purchase.product_id as last_product_id,
        products.product_name as last_product_name,
        products.category as last_category
    from latest_purchase
    inner join products on latest_purchase.product_id = products.product_id

),

recommendation as (

    -- Per recent buyer, its category's products best first (the best sellers' unique rank index) up to
    -- the first one it never bought: the customer's purchases (its sales index) are checked
    -- against the top one or two products, not against every product of the category (pairing
    -- each buyer with all of them was most of a day's build at 1M sales: docs/benchmarks.md).
    select
        recent_buyers.customer_id,
        offer.product_id,
        offer.sales_count,
        offer.revenue
    from recent_buyers
    cross join lateral (
        select
            best_sellers.product_id,
            best_sellers.sales_count,
            best_sellers.revenue
        from best_sellers
        where
            best_sellers.category = recent_buyers.last_category
            and not exists (
                select 1
                from {{ ref('silver_sales') }} as bought
                where
                    bought.customer_id = recent_buyers.customer_id
                    and bought.product_id = best_sellers.product_id
                    and bought.sale_date <= {{ logical_date() }}
            )
        order by best_sellers.category_rank asc
        limit 1
    ) as offer

),

reach as (

    select
        recent_buyers.*,
        recommendation.product_id as recommended_product_id,
        products.product_name as recommended_product_name,
        recommendation.sales_count as recommended_sales_count,
        recommendation.revenue as recommended_revenue,
        (customers.customer_email is not null and not coalesce(consent.no_email, false))
            as email_reachable,
        (
            coalesce(telegram_links.chat_id, customers.telegram_chat_id) is not null
            and not coalesce(consent.no_telegram, false)
        ) as telegram_reachable
    from recent_buyers
    inner join recommendation on recent_buyers.customer_id = recommendation.customer_id
    inner join products on recommendation.product_id = products.product_id
    inner join customers on recent_buyers.customer_id = customers.customer_id
    left join consent on recent_buyers.customer_id = consent.customer_id
    left join telegram_links on recent_buyers.customer_id = telegram_links.customer_id

),

final as (

    select
        {{ logical_date() }} as audience_date,
        customer_id::bigint as customer_id,
        last_sale_id::bigint as last_sale_id,
        last_sale_date,
        last_product_id::bigint as last_product_id,
        last_product_name::text as last_product_name,
        last_category::text as last_category,
        recommended_product_id::bigint as recommended_product_id,
        recommended_product_name::text as recommended_product_name,
        recommended_sales_count::bigint as recommended_sales_count,
        recommended_revenue::numeric(14, 2) as recommended_revenue,
        email_reachable,
        telegram_reachable
    from reach
    where email_reachable or telegram_reachable

)

select * from final
