-- The campaign's inputs in gold: each customer's latest purchase.
select
    customer_id,
    sale_date
from gold.customer_latest_purchase
