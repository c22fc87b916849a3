-- The logical day's sales in silver, with whether each reference resolves in its dimension.
select
    sales.sale_id,
    sales.customer_id,
    sales.product_id,
    sales.seller_id,
    sales.unit_price,
    sales.quantity,
    sales.sale_value,
    customers.customer_id is not null as customer_known,
    products.product_id is not null as product_known,
    sellers.employee_id is not null as seller_known,
    sales.sold_at
from silver.sales as sales
left join silver.customers as customers on sales.customer_id = customers.customer_id
left join silver.products as products on sales.product_id = products.product_id
left join silver.employees as sellers on sales.seller_id = sellers.employee_id
where sales.sale_date = %(day)s::date
order by sales.sale_id
