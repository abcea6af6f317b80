{#-
    `left join <relation> as <alias>` on the row of <relation> with the latest `<right_time>` at
    or before `<left_time>` among those with the same key (`on`: an equality conjunction), or on
    nothing. Point-in-time lookups into non-overlapping windows (one per key at a time) are this
    join plus a check of the window's end; a range join on the same predicate compares every
    window of the key with every event (a repl with 200 windows costs 200 comparisons per event),
    this one does one sort-merge per key, on both engines.
-#}
{% macro asof_left_join(relation, alias, on, left_time, right_time) -%}
    {{ return(adapter.dispatch('asof_left_join', 'revops')(relation, alias, on, left_time, right_time)) }}
{%- endmacro %}

{% macro default__asof_left_join(relation, alias, on, left_time, right_time) -%}
    {{ exceptions.raise_compiler_error("asof_left_join is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__asof_left_join(relation, alias, on, left_time, right_time) -%}
    asof left join {{ relation }} as {{ alias }}
        on {{ on }} and {{ left_time }} >= {{ right_time }}
{%- endmacro %}

{#- Snowflake's ASOF JOIN null-pads unmatched left rows, so it is already the left join. -#}
{% macro snowflake__asof_left_join(relation, alias, on, left_time, right_time) -%}
    {%- if is_fakesnow_target() -%}
        {{ return(fakesnow_asof_left_join(relation, alias, on, left_time, right_time)) }}
    {%- endif -%}
    asof join {{ relation }} as {{ alias }}
        match_condition ({{ left_time }} >= {{ right_time }})
        on {{ on }}
{%- endmacro %}
