-- The quality gate's findings: one row per expectation of each suite for a logical date (the
-- latest run of that date replaces the earlier one), failing samples included, for analysts.
create schema if not exists quality;

create table if not exists quality.results (
    logical_date date not null,
    suite text not null,
    expectation text not null,
    column_name text,
    success boolean not null,
    observed_value jsonb,
    unexpected_count bigint,
    failing_samples jsonb,
    arguments jsonb not null,
    run_id text not null,
    checked_at timestamptz not null default now()
);

create index if not exists results_logical_date_idx on quality.results (logical_date, suite);
