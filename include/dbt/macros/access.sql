{#- The warehouse's read-only roles (liftoff/warehouse/roles.py, docs/analysts.md) read whole
    schemas through default privileges, which Postgres cannot except a relation from: every
    relation dbt (re)creates in silver or gold is granted to them at `create`. The relations a
    role must never see are listed by the role's own apply step in access.reader_exclusions; this
    post-hook of every silver and gold model revokes them again, inside the transaction that
    created the relation, so no reader ever sees a committed re-created excluded relation.
    A no-op where no role was applied (no list) and on other adapters. -#}
{% macro revoke_reader_exclusions() %}
    {%- if target.type == 'postgres' -%}
do $liftoff$
declare
    reader text;
begin
    if to_regclass('access.reader_exclusions') is null then
        return;
    end if;
    for reader in
        select exclusions.role_name
        from access.reader_exclusions as exclusions
        inner join pg_catalog.pg_roles as roles on exclusions.role_name = roles.rolname
        where exclusions.relation = '{{ this.schema }}.{{ this.identifier }}'
    loop
        execute format('revoke all on {{ this }} from %I', reader);
    end loop;
end
$liftoff$
    {%- endif -%}
{% endmacro %}
