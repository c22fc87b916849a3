{#- Combinations of `columns` (a comma-separated list) that occur more than once. -#}
{% test unique_combination(model, columns) %}

    select
        {{ columns }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1

{% endtest %}
