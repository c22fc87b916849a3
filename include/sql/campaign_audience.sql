-- Cross-sell audience of one campaign (one logical date D), written into campaign.recipients.
--
-- Rules (the original n8n query broke each of them):
-- * recent buyers: customers whose most recent purchase up to D lies in the `recent_days` days
--   ending on D (D-2, D-1, D for 3): only that latest purchase counts, never an older one of the
--   same window;
-- * recommendation: the best seller, by number of sales over the `best_seller_months` months
--   before D (as gold.category_best_sellers ranks them), of the category of that latest purchase,
--   among the products the customer has never bought; ties: more revenue, then the lower id;
-- * excluded: customers opted out of every channel (campaign.consent_exclusions), customers
--   reached by another campaign of the `contact_cooldown_days` days before D, and customers with
--   no channel left (no e-mail and no linked Telegram chat, or opted out of the ones they have).
-- Reads silver, not the gold marts: gold's "as of" marts describe the latest transform run, while
-- a campaign must be recomputable for any logical date, and "never bought" needs every purchase.
-- Joins are by id, never by product name.

insert into campaign.recipients (
    campaign_id,
    customer_id,
    first_name,
    customer_email,
    telegram_chat_id,
    last_sale_id,
    last_product_name,
    last_category,
    recommended_product_id,
    recommended_product_name,
    recommended_description,
    recommended_price,
    segment_key,
    batch_number
)

with

sales_to_date as (

    select
        sale_id,
        customer_id,
        product_id,
        sale_value,
        sale_date,
        sold_at
    from silver.sales
    where sale_date <= {{ logical_date }}::date

),

latest_purchase as (

    select distinct on (customer_id)
        customer_id,
        sale_id,
        product_id,
        sale_date
    from sales_to_date
    order by customer_id asc, sold_at desc, sale_id desc

),

recent_buyers as (

    select
        latest_purchase.customer_id,
        latest_purchase.sale_id as last_sale_id,
        products.product_name as last_product_name,
        products.category as last_category
    from latest_purchase
    inner join silver.products as products on latest_purchase.product_id = products.product_id
    where latest_purchase.sale_date > {{ logical_date }}::date - {{ recent_days }}::integer

),

category_sales as (

    select
        products.category,
        sales_to_date.product_id,
        count(*) as sales_count,
        sum(sales_to_date.sale_value) as revenue
    from sales_to_date
    inner join silver.products as products on sales_to_date.product_id = products.product_id
    where
        sales_to_date.sale_date
        >= ({{ logical_date }}::date - make_interval(months => {{ best_seller_months }}::integer))::date
        and sales_to_date.sale_date < {{ logical_date }}::date
    group by products.category, sales_to_date.product_id

),

never_bought as (

    select
        recent_buyers.customer_id,
        category_sales.product_id,
        category_sales.sales_count,
        category_sales.revenue
    from recent_buyers
    inner join category_sales on recent_buyers.last_category = category_sales.category
    where not exists (
        select 1
        from sales_to_date
        where
            sales_to_date.customer_id = recent_buyers.customer_id
            and sales_to_date.product_id = category_sales.product_id
    )

),

recommendation as (

    select distinct on (customer_id)
        customer_id,
        product_id
    from never_bought
    order by customer_id asc, sales_count desc, revenue desc, product_id asc

),

opted_out as (

    select
        customer_id,
        bool_or(channel in ('email', 'all')) as no_email,
        bool_or(channel in ('telegram', 'all')) as no_telegram
    from campaign.consent_exclusions
    group by customer_id

),

recently_contacted as (

    select distinct customer_id
    from campaign.send_log
    where
        status = 'sent'
        and campaign_id <> {{ campaign_id }}::text
        and logical_date >= {{ logical_date }}::date - {{ contact_cooldown_days }}::integer
        and logical_date <= {{ logical_date }}::date

),

reachable as (

    select
        recent_buyers.customer_id,
        customers.first_name,
        recent_buyers.last_sale_id,
        recent_buyers.last_product_name,
        recent_buyers.last_category,
        recommendation.product_id as recommended_product_id,
        products.product_name as recommended_product_name,
        products.product_description as recommended_description,
        products.unit_price as recommended_price,
        case when not coalesce(opted_out.no_email, false) then customers.customer_email end
            as customer_email,
        case
            when not coalesce(opted_out.no_telegram, false)
                then coalesce(telegram_links.chat_id, customers.telegram_chat_id)
        end as telegram_chat_id
    from recent_buyers
    inner join recommendation on recent_buyers.customer_id = recommendation.customer_id
    inner join silver.customers as customers on recent_buyers.customer_id = customers.customer_id
    inner join silver.products as products on recommendation.product_id = products.product_id
    left join opted_out on recent_buyers.customer_id = opted_out.customer_id
    left join campaign.telegram_links as telegram_links
        on recent_buyers.customer_id = telegram_links.customer_id
    where not exists (
        select 1
        from recently_contacted
        where recently_contacted.customer_id = recent_buyers.customer_id
    )

),

final as (

    select
        {{ campaign_id }}::text as campaign_id,
        customer_id,
        first_name,
        customer_email,
        telegram_chat_id,
        last_sale_id,
        last_product_name,
        last_category,
        recommended_product_id,
        recommended_product_name,
        recommended_description,
        recommended_price,
        recommended_product_id::text || ':' || last_category as segment_key,
        ((row_number() over (order by customer_id asc) - 1) / {{ batch_size }}::integer)::integer
            as batch_number
    from reachable
    where customer_email is not null or telegram_chat_id is not null

)

select * from final
