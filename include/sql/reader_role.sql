-- A read-only reader role of the warehouse: the dashboard's (gold) and the analysts' (silver and
-- gold). One file for both: liftoff.warehouse.roles describes each role (the schemas it reads,
-- the relations in them it must never see, its statement timeout) and fills the placeholders
-- with psycopg.sql (liftoff.sql_files.compose): identifiers as identifiers, values as literals.
-- Applied as the role that owns the layers (the one dbt runs as). Idempotent: safe on every start.

do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = %(role_name)s) then
        create role %(role)s login;
    end if;
end
$$;

-- Log in, nothing more; sessions default to read-only and bounded statements. A role may always
-- change its own password and its own session defaults (ALTER ROLE itself SET ..., also IN DATABASE,
-- which outranks the role-wide one): every apply resets them all, then sets ours again.
alter role %(role)s with login nosuperuser nocreatedb nocreaterole noinherit password %(password)s;
alter role %(role)s reset all;
alter role %(role)s in database %(database)s reset all;
alter role %(role)s set default_transaction_read_only = on;
alter role %(role)s set statement_timeout = %(statement_timeout)s;

-- Connect to the warehouse, but create nothing in it (not even temporary tables).
grant connect on database %(database)s to %(role)s;
revoke create on database %(database)s from %(role)s;
revoke temporary on database %(database)s from public, %(role)s;
-- dbt's incremental models stage through temporary tables: the owner keeps the right explicitly.
grant temporary on database %(database)s to %(owner)s;

-- The schemas it reads: usage, select on their tables and views, now and on every relation dbt
-- (re)creates in them (the owner's default privileges). Views run with their owner's rights: the
-- dashboard's Campanhas page reads gold.campaign_copy and gold.campaign_messages without any
-- grant on the campaign schema.
do $$
declare
    layer text;
begin
    foreach layer in array %(schemas)s::text[] loop
        execute format('create schema if not exists %%I', layer);
        execute format('grant usage on schema %%I to %%I', layer, %(role_name)s);
        execute format('grant select on all tables in schema %%I to %%I', layer, %(role_name)s);
        execute format(
            'alter default privileges for role %%I in schema %%I grant select on tables to %%I',
            %(owner_name)s, layer, %(role_name)s
        );
    end loop;
end
$$;

-- What it must never see, although it lies in a schema it reads. Postgres cannot exempt a
-- relation from a default privilege, and dbt re-creates its relations on every build: the list is
-- kept here, in access.reader_exclusions, and the dbt macro revoke_reader_exclusions (a post-hook
-- of every silver and gold model) revokes the grant in the very transaction that re-created the
-- relation. Here, the relations that exist now lose it.
create schema if not exists access;
create table if not exists access.reader_exclusions (
    role_name text not null,
    relation text not null,
    primary key (role_name, relation)
);
delete from access.reader_exclusions
where role_name = %(role_name)s;
insert into access.reader_exclusions (role_name, relation)
select
    %(role_name)s as role_name,
    excluded.relation
from unnest(%(never)s::text[]) as excluded (relation);

do $$
declare
    excluded text;
begin
    foreach excluded in array %(never)s::text[] loop
        if to_regclass(excluded) is not null then
            execute format('revoke all on %%s from %%I', to_regclass(excluded), %(role_name)s);
        end if;
    end loop;
end
$$;
