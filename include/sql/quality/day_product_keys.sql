-- The keys of the logical day's rows in gold.daily_product_sales.
select
    sale_date,
    product_id
from gold.daily_product_sales
where sale_date = %(day)s::date
