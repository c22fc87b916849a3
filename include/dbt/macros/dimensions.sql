{#-
  Names are not frozen into incremental marts. A mart that keeps the days it built (daily product
  and seller sales, the latest purchase per customer) copied a product's or seller's name and
  category as they were that day; after a rename the dashboard showed two names for one id (and
  the 30-day and best-seller marts, which group by name, two rows). After each build this post-hook
  sets the current values (silver's latest version) on the mart's rows of every dimension record
  whose new version silver took in this run's window: the same rows silver itself re-read, so gold
  is exactly as current as silver. Cheap: the changed records are few (usually none: then the hash
  join ends before reading the mart), and the daily marts hold days × products or sellers.
  The alternative, id-only marts joined to silver at read time, would change the marts' columns
  (a full refresh everywhere) and need the dashboard's gold-only role to read silver.

  Arguments: the mart's key column, the dimension model and its key, and {mart column: expression
  over the dimension's current row (alias `current_version`)}.
-#}
{% macro refresh_dimension_names(key, dimension, dimension_key, columns) -%}
    update {{ this }} as mart
    set
    {%- for column, expression in columns.items() %}
        {{ column }} = {{ expression }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ ref(dimension) }} as current_version
    where
        mart.{{ key }} = current_version.{{ dimension_key }}
        and current_version.extracted_at >= {{ extracted_since() }}
        and (
            {%- for column in columns %}mart.{{ column }}{{ ", " if not loop.last }}{% endfor -%}
        ) is distinct from (
            {%- for expression in columns.values() %}{{ expression }}{{ ", " if not loop.last }}{% endfor -%}
        )
{%- endmacro %}
