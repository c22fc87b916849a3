-- Reconciliation of the dimension entities loaded on one data day, raw against silver (the gate's
-- `reconcile_<entity>` suites): every key a load of the day delivered (loader rows stamped with the
-- day; Airbyte rows, unstamped, extracted in [airbyte_from, airbyte_until), an open end when null)
-- is in silver exactly once, at its latest version: the raw row with the latest updated_at, then
-- the latest extraction, then the highest _airbyte_raw_id, among every raw row of that key (each
-- raw table has an index on its key). A version is compared by its update and extraction times
-- and a few business columns, typed as bronze types them. Only loader rows of loads up to
-- `as_of` (the transform's logical date) set the expected version: a later day's load (a
-- backfill's next day, landed while this gate runs) is not what the checked transform read, and
-- a silver version newer than the expected one (built by that later transform) is not stale.
--
-- One row per problem, entity then key ascending: `missing` (not in silver), `duplicated` (more
-- than once), `outdated` (in silver, not at its latest version); then one `checked` row per
-- entity whose detail counts the checked keys.
with

loaded_suppliers as (

    select raw_suppliers.supplier_id
    from raw.suppliers as raw_suppliers
    where raw_suppliers._liftoff_logical_date = %(day)s::date

    union

    select raw_suppliers.supplier_id
    from raw.suppliers as raw_suppliers
    where
        raw_suppliers._liftoff_logical_date is null
        and raw_suppliers._airbyte_extracted_at >= %(airbyte_from)s::timestamptz
        and raw_suppliers._airbyte_extracted_at < coalesce(%(airbyte_until)s::timestamptz, 'infinity')

),

latest_suppliers as (

    select distinct on (raw_suppliers.supplier_id)
        'suppliers' as entity,
        raw_suppliers.supplier_id as natural_key,
        jsonb_build_object(
            'company_name', raw_suppliers.company_name,
            'email', lower(raw_suppliers.email),
            'updated_at', raw_suppliers.updated_at,
            'extracted_at', raw_suppliers._airbyte_extracted_at
        ) as row_version
    from raw.suppliers as raw_suppliers
    where
        raw_suppliers.supplier_id in (select loaded_suppliers.supplier_id from loaded_suppliers)
        and (
            raw_suppliers._liftoff_logical_date is null
            or raw_suppliers._liftoff_logical_date <= %(as_of)s::date
        )
    order by
        raw_suppliers.supplier_id asc,
        raw_suppliers.updated_at desc,
        raw_suppliers._airbyte_extracted_at desc,
        raw_suppliers._airbyte_raw_id desc

),

silver_rows_suppliers as (

    select
        'suppliers' as entity,
        silver_suppliers.supplier_id as natural_key,
        jsonb_build_object(
            'company_name', silver_suppliers.company_name,
            'email', silver_suppliers.supplier_email,
            'updated_at', silver_suppliers.updated_at,
            'extracted_at', silver_suppliers.extracted_at
        ) as row_version
    from silver.suppliers as silver_suppliers
    where silver_suppliers.supplier_id in (select loaded_suppliers.supplier_id from loaded_suppliers)

),

loaded_products as (

    select raw_products.product_id
    from raw.products as raw_products
    where raw_products._liftoff_logical_date = %(day)s::date

    union

    select raw_products.product_id
    from raw.products as raw_products
    where
        raw_products._liftoff_logical_date is null
        and raw_products._airbyte_extracted_at >= %(airbyte_from)s::timestamptz
        and raw_products._airbyte_extracted_at < coalesce(%(airbyte_until)s::timestamptz, 'infinity')

),

latest_products as (

    select distinct on (raw_products.product_id)
        'products' as entity,
        raw_products.product_id as natural_key,
        jsonb_build_object(
            'supplier_id', raw_products.supplier_id::bigint,
            'name', raw_products.name,
            'category', raw_products.categoria,
            'unit_price', raw_products.price::numeric(12, 2),
            'updated_at', raw_products.updated_at,
            'extracted_at', raw_products._airbyte_extracted_at
        ) as row_version
    from raw.products as raw_products
    where
        raw_products.product_id in (select loaded_products.product_id from loaded_products)
        and (
            raw_products._liftoff_logical_date is null
            or raw_products._liftoff_logical_date <= %(as_of)s::date
        )
    order by
        raw_products.product_id asc,
        raw_products.updated_at desc,
        raw_products._airbyte_extracted_at desc,
        raw_products._airbyte_raw_id desc

),

silver_rows_products as (

    select
        'products' as entity,
        silver_products.product_id as natural_key,
        jsonb_build_object(
            'supplier_id', silver_products.supplier_id,
            'name', silver_products.product_name,
            'category', silver_products.category,
            'unit_price', silver_products.unit_price,
            'updated_at', silver_products.updated_at,
            'extracted_at', silver_products.extracted_at
        ) as row_version
    from silver.products as silver_products
    where silver_products.product_id in (select loaded_products.product_id from loaded_products)

),

loaded_employees as (

    select raw_employees.employee_id
    from raw.employees as raw_employees
    where raw_employees._liftoff_logical_date = %(day)s::date

    union

    select raw_employees.employee_id
    from raw.employees as raw_employees
    where
        raw_employees._liftoff_logical_date is null
        and raw_employees._airbyte_extracted_at >= %(airbyte_from)s::timestamptz
        and raw_employees._airbyte_extracted_at < coalesce(%(airbyte_until)s::timestamptz, 'infinity')

),

latest_employees as (

    select distinct on (raw_employees.employee_id)
        'employees' as entity,
        raw_employees.employee_id as natural_key,
        jsonb_build_object(
            'first_name', raw_employees.first_name,
            'last_name', raw_employees.last_name,
            'email', lower(raw_employees.email),
            'job_title', raw_employees.job_title,
            'salary', raw_employees.salary::numeric(12, 2),
            'updated_at', raw_employees.updated_at,
            'extracted_at', raw_employees._airbyte_extracted_at
        ) as row_version
    from raw.employees as raw_employees
    where
        raw_employees.employee_id in (select loaded_employees.employee_id from loaded_employees)
        and (
            raw_employees._liftoff_logical_date is null
            or raw_employees._liftoff_logical_date <= %(as_of)s::date
        )
    order by
        raw_employees.employee_id asc,
        raw_employees.updated_at desc,
        raw_employees._airbyte_extracted_at desc,
        raw_employees._airbyte_raw_id desc

),

silver_rows_employees as (

    select
        'employees' as entity,
        silver_employees.employee_id as natural_key,
        jsonb_build_object(
            'first_name', silver_employees.first_name,
            'last_name', silver_employees.last_name,
            'email', silver_employees.employee_email,
            'job_title', silver_employees.job_title,
            'salary', silver_employees.salary,
            'updated_at', silver_employees.updated_at,
            'extracted_at', silver_employees.extracted_at
        ) as row_version
    from silver.employees as silver_employees
    where silver_employees.employee_id in (select loaded_employees.employee_id from loaded_employees)

),

loaded_customers as (

    select raw_customers.customer_id
    from raw.customers as raw_customers
    where raw_customers._liftoff_logical_date = %(day)s::date

    union

    select raw_customers.customer_id
    from raw.customers as raw_customers
    where
        raw_customers._liftoff_logical_date is null
        and raw_customers._airbyte_extracted_at >= %(airbyte_from)s::timestamptz
        and raw_customers._airbyte_extracted_at < coalesce(%(airbyte_until)s::timestamptz, 'infinity')

),

latest_customers as (

    select distinct on (raw_customers.customer_id)
        'customers' as entity,
        raw_customers.customer_id as natural_key,
        jsonb_build_object(
            'first_name', raw_customers.first_name,
            'last_name', raw_customers.last_name,
            'email', lower(raw_customers.email),
            'telegram_chat_id', raw_customers.telegram_chat_id::bigint,
            'updated_at', raw_customers.updated_at,
            'extracted_at', raw_customers._airbyte_extracted_at
        ) as row_version
    from raw.customers as raw_customers
    where
        raw_customers.customer_id in (select loaded_customers.customer_id from loaded_customers)
        and (
            raw_customers._liftoff_logical_date is null
            or raw_customers._liftoff_logical_date <= %(as_of)s::date
        )
    order by
        raw_customers.customer_id asc,
        raw_customers.updated_at desc,
        raw_customers._airbyte_extracted_at desc,
        raw_customers._airbyte_raw_id desc

),

silver_rows_customers as (

    select
        'customers' as entity,
        silver_customers.customer_id as natural_key,
        jsonb_build_object(
            'first_name', silver_customers.first_name,
            'last_name', silver_customers.last_name,
            'email', silver_customers.customer_email,
            'telegram_chat_id', silver_customers.telegram_chat_id,
            'updated_at', silver_customers.updated_at,
            'extracted_at', silver_customers.extracted_at
        ) as row_version
    from silver.customers as silver_customers
    where silver_customers.customer_id in (select loaded_customers.customer_id from loaded_customers)

),

latest as (

    select * from latest_suppliers

    union all

    select * from latest_products

    union all

    select * from latest_employees

    union all

    select * from latest_customers

),

silver_rows as (

    select * from silver_rows_suppliers

    union all

    select * from silver_rows_products

    union all

    select * from silver_rows_employees

    union all

    select * from silver_rows_customers

),

problems as (

    select
        'missing' as problem,
        latest.entity,
        latest.natural_key,
        null::jsonb as detail
    from latest
    where
        not exists (
            select from silver_rows
            where silver_rows.entity = latest.entity and silver_rows.natural_key = latest.natural_key
        )

    union all

    select
        'duplicated' as problem,
        silver_rows.entity,
        silver_rows.natural_key,
        jsonb_build_object('copies', count(*)) as detail
    from silver_rows
    group by silver_rows.entity, silver_rows.natural_key
    having count(*) > 1

    union all

    select
        'outdated' as problem,
        latest.entity,
        latest.natural_key,
        jsonb_build_object('raw', latest.row_version, 'silver', silver_rows.row_version) as detail
    from latest
    inner join silver_rows
        on latest.entity = silver_rows.entity and latest.natural_key = silver_rows.natural_key
    where
        latest.row_version is distinct from silver_rows.row_version
        -- A version newer than the expected one came from a load after the transform's logical
        -- date (a backfill's next day, built by a later transform while this gate ran): not stale.
        and (
            coalesce((silver_rows.row_version ->> 'updated_at')::timestamptz, '-infinity'),
            coalesce((silver_rows.row_version ->> 'extracted_at')::timestamptz, '-infinity')
        )
        <= (
            coalesce((latest.row_version ->> 'updated_at')::timestamptz, '-infinity'),
            coalesce((latest.row_version ->> 'extracted_at')::timestamptz, '-infinity')
        )

    union all

    select
        'checked' as problem,
        latest.entity,
        null::bigint as natural_key,
        jsonb_build_object('keys', count(*)) as detail
    from latest
    group by latest.entity

)

select
    problems.entity,
    problems.problem,
    problems.natural_key,
    problems.detail
from problems
order by problems.entity, problems.problem, problems.natural_key
