{#-
    No two rows of the same partition have overlapping half-open ranges [lower, upper).
    (The semantics of dbt_utils.mutually_exclusive_ranges, named like the expect_ family.)
    Checks each row against its predecessor in lower-bound order, which is enough: if any two
    ranges overlap, some row overlaps the running maximum of the ranges before it.
-#}
{% test expect_mutually_exclusive_ranges(model, lower_bound_column, upper_bound_column, partition_by) %}

with

ordered as (

    select
        {{ partition_by }},
        {{ lower_bound_column }} as lower_bound,
        {{ upper_bound_column }} as upper_bound,
        max({{ upper_bound_column }}) over (
            partition by {{ partition_by }}
            order by {{ lower_bound_column }}, {{ upper_bound_column }}
            rows between unbounded preceding and 1 preceding
        ) as previous_max_upper_bound
    from {{ model }}

)

select *
from ordered
where previous_max_upper_bound > lower_bound

{% endtest %}
