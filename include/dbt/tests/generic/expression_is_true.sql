{#- Rows where `expression` is false: a failing row is shown by `dbt test --store-failures`.
    (dbt_utils has expression_is_true, but packages cannot be installed offline.) -#}
{% test expression_is_true(model, column_name, expression) %}

    select *
    from {{ model }}
    where not ({{ expression }})

{% endtest %}
