-- The recipients of one campaign (data day D): the rows of the dbt model gold.cross_sell_audience
-- for D, and nothing else for who gets which recommendation. Added here only what gold does not
-- hold: the addresses (from the CRM's customers, never from copywriter output; a Telegram chat
-- linked outside the CRM wins), the product's description and price for the message, the segment
-- and the delivery batch. Consent given since the model was built is applied by the plan's skip
-- reasons (include/sql/campaign_skip_reasons.sql), so the summaries can say why.

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

audience as (

    select *
    from gold.cross_sell_audience
    where audience_date = %(logical_date)s::date

),

final as (

    select
        %(campaign_id)s::text as campaign_id,
        audience.customer_id,
        customers.first_name,
        case when audience.email_reachable then customers.customer_email end as customer_email,
        case
            when audience.telegram_reachable
                then coalesce(telegram_links.chat_id, customers.telegram_chat_id)
        end as telegram_chat_id,
        audience.last_sale_id,
        audience.last_product_name,
        audience.last_category,
        audience.recommended_product_id,
        audience.recommended_product_name,
        products.product_description as recommended_description,
        products.unit_price as recommended_price,
        audience.recommended_product_id::text || ':' || audience.last_category as segment_key,
        ((row_number() over (order by audience.customer_id asc) - 1) / %(batch_size)s::integer)::integer
            as batch_number
    from audience
    inner join silver.customers as customers on audience.customer_id = customers.customer_id
    inner join silver.products as products on audience.recommended_product_id = products.product_id
    left join campaign.telegram_links as telegram_links
        on audience.customer_id = telegram_links.customer_id

)

select * from final
where customer_email is not null or telegram_chat_id is not null
