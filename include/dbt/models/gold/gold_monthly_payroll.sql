-- Monthly payroll: for each month up to the logical date's, the salaries of everyone employed
-- that month (hired on or before the month's last day, not terminated before its first day).

with

employees as (

    select * from {{ ref('silver_employees') }}

),

months as (

    select month_start::date as month_start
    from generate_series(
        (select {{ dbt.date_trunc('month', 'min(hire_date)') }} from employees),
        {{ dbt.date_trunc('month', logical_date()) }},
        interval '1 month'
    ) as month_start

),

final as (

    select
        months.month_start,
        count(employees.employee_id)::bigint as employees,
        coalesce(sum(employees.salary), 0)::numeric(14, 2) as payroll
    from months
    left join employees
        on
            {{ dbt.last_day('months.month_start', 'month') }} >= employees.hire_date
            and (months.month_start <= employees.termination_date or employees.termination_date is null)
    group by months.month_start

)

select * from final
