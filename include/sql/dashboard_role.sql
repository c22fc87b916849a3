-- The dashboard's read-only role: it may read the gold schema and nothing else.
-- Applied by `liftoff.apps.dashboard.role` (the local stack's prepare step, or by hand in production)
-- as the role that owns gold (the one dbt runs as). Placeholders are filled with psycopg.sql
-- (liftoff.sql_files.compose): identifiers quoted as identifiers, values as literals.
-- Idempotent: safe to apply on every start.

do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = %(role_name)s) then
        create role %(role)s login;
    end if;
end
$$;

-- Log in, nothing more; sessions default to read-only and bounded statements.
alter role %(role)s with login nosuperuser nocreatedb nocreaterole noinherit password %(password)s;
alter role %(role)s set default_transaction_read_only = on;
alter role %(role)s set statement_timeout = '15s';

-- Connect to the warehouse, but create nothing in it (not even temporary tables).
grant connect on database %(database)s to %(role)s;
revoke create on database %(database)s from %(role)s;
revoke temporary on database %(database)s from public, %(role)s;
-- dbt's incremental models stage through temporary tables: the owner keeps the right explicitly.
grant temporary on database %(database)s to %(owner)s;

-- Gold only: usage on the schema, select on its tables, now and on every table dbt re-creates.
-- The Campanhas page needs no grant on the campaign schema: it reads the dbt views
-- gold.campaign_copy and gold.campaign_messages, which run with their owner's rights and expose
-- no contact data (docs/dashboard.md, Campanhas).
create schema if not exists gold;
grant usage on schema gold to %(role)s;
grant select on all tables in schema gold to %(role)s;
alter default privileges for role %(owner)s in schema gold grant select on tables to %(role)s;
