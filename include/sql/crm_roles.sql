-- The CRM database's three roles (liftoff.apps.crm_api.roles): the owner the migrations run as,
-- the API's serving role (reads and writes rows, nothing else) and the extraction's read-only
-- reader. Applied by a superuser (or a role with CREATEROLE that owns the database) on the CRM
-- database; idempotent, and every apply restores passwords and session defaults a role may have
-- changed on itself (ALTER ROLE itself ... cannot be prevented in PostgreSQL).

do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = %(owner_name)s) then
        create role %(owner)s login;
    end if;
    if not exists (select from pg_catalog.pg_roles where rolname = %(api_name)s) then
        create role %(api)s login;
    end if;
    if not exists (select from pg_catalog.pg_roles where rolname = %(reader_name)s) then
        create role %(reader)s login;
    end if;
end
$$;

alter role %(owner)s with login nosuperuser nocreatedb nocreaterole noinherit password %(owner_password)s;
alter role %(api)s with login nosuperuser nocreatedb nocreaterole noinherit password %(api_password)s;
alter role %(reader)s with login nosuperuser nocreatedb nocreaterole noinherit password %(reader_password)s;
alter role %(owner)s reset all;
alter role %(owner)s in database %(database)s reset all;
alter role %(api)s reset all;
alter role %(api)s in database %(database)s reset all;
alter role %(reader)s reset all;
alter role %(reader)s in database %(database)s reset all;
alter role %(reader)s set default_transaction_read_only = on;

-- The owner owns the schema and all in it: the migrations create, alter and drop there. CREATE
-- on the database because `create schema if not exists` (the migrations' env.py) checks it first.
revoke connect, temporary on database %(database)s from public;
grant connect, create on database %(database)s to %(owner)s;
grant connect on database %(database)s to %(api)s, %(reader)s;
revoke create, temporary on database %(database)s from %(api)s, %(reader)s;
create schema if not exists %(schema)s authorization %(owner)s;
alter schema %(schema)s owner to %(owner)s;

-- Tables an earlier migration created as another role (the superuser, before these roles): the
-- owner's now (their identity sequences and indexes follow their table).
do $$
declare
    relation regclass;
begin
    for relation in
        select c.oid::regclass from pg_catalog.pg_class as c
        inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
        where n.nspname = %(schema_name)s and c.relkind in ('r', 'p')
            and c.relowner <> (select r.oid from pg_catalog.pg_roles as r where r.rolname = %(owner_name)s)
    loop
        execute format('alter table %%s owner to %%I', relation, %(owner_name)s);
    end loop;
end
$$;

-- The API: rows only (soft deletes are updates), sequences for the keys; no DDL, no truncate,
-- no delete. The reader: select only. Now, and on every table a later migration creates.
revoke all on schema %(schema)s from public;
grant usage on schema %(schema)s to %(api)s, %(reader)s;
revoke all on all tables in schema %(schema)s from %(api)s, %(reader)s;
grant select, insert, update on all tables in schema %(schema)s to %(api)s;
grant usage on all sequences in schema %(schema)s to %(api)s;
grant select on all tables in schema %(schema)s to %(reader)s;
alter default privileges for role %(owner)s in schema %(schema)s
grant select, insert, update on tables to %(api)s;
alter default privileges for role %(owner)s in schema %(schema)s
grant usage on sequences to %(api)s;
alter default privileges for role %(owner)s in schema %(schema)s
grant select on tables to %(reader)s;

-- Alembic's version table is the migrations' alone: the API may not rewrite which revision the
-- database is at (the table exists once the first migration ran: the stack applies this file
-- again after migrating).
do $$
begin
    if to_regclass(format('%%I.alembic_version', %(schema_name)s)) is not null then
        execute format('revoke insert, update on %%I.alembic_version from %%I', %(schema_name)s, %(api_name)s);
    end if;
end
$$;
