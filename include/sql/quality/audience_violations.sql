-- The quality gate's certification of the campaign's audience (gold.cross_sell_audience) for one
-- data day: every row that breaks a rule of the audience, with the rule it breaks. Checked from
-- silver's history, so it holds for any day, not only the transform's latest:
-- * one row per customer and day;
-- * the latest purchase is the customer's latest up to the end of D, and lies on D-2..D;
-- * the recommended product is in the category of that purchase's product;
-- * the customer never bought the recommended product up to the end of D.

with

audience as (

    select *
    from gold.cross_sell_audience
    where audience_date = %(day)s::date

),

violations as (

    select
        customer_id,
        'one row per customer and day' as broken_rule
    from audience
    group by customer_id
    having count(*) > 1

    union all

    select
        customer_id,
        'latest purchase on D-2..D' as broken_rule
    from audience
    where last_sale_date not between audience_date - 2 and audience_date

    union all

    select
        audience.customer_id,
        'latest purchase is the latest up to D' as broken_rule
    from audience
    where
        exists (
            select
            from silver.sales as later
            where
                later.customer_id = audience.customer_id
                and later.sale_date <= audience.audience_date
                and later.sale_id <> audience.last_sale_id
                and later.sold_at > (
                    select last_sale.sold_at from silver.sales as last_sale
                    where last_sale.sale_id = audience.last_sale_id
                )
        )

    union all

    select
        audience.customer_id,
        'recommended product in the last purchase''s category' as broken_rule
    from audience
    inner join silver.products as last_product on audience.last_product_id = last_product.product_id
    inner join silver.products as recommended
        on audience.recommended_product_id = recommended.product_id
    where recommended.category is distinct from last_product.category

    union all

    select
        audience.customer_id,
        'recommended product never bought up to D' as broken_rule
    from audience
    where exists (
        select
        from silver.sales as bought
        where
            bought.customer_id = audience.customer_id
            and bought.product_id = audience.recommended_product_id
            and bought.sale_date <= audience.audience_date
    )

)

select
    broken_rule,
    count(*) as violations,
    (array_agg(customer_id order by customer_id))[1:10] as sample_customers
from violations
group by broken_rule
order by broken_rule
