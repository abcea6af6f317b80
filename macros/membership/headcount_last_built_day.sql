{#-
    The last day fct_team_daily_headcount holds, read once as a literal: the pre-hook deletes rows,
    so the model body must not re-read it from the table.
-#}
{% macro headcount_last_built_day() -%}
    {%- if not execute or this is none or not is_incremental() -%}{{ return(none) }}{%- endif -%}
    {%- set result = run_query('select max(date_day) from ' ~ this) -%}
    {%- set value = result.columns[0].values()[0] -%}
    {{ return(value | string if value is not none else none) }}
{%- endmacro %}
