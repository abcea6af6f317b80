{#- The last day fct_team_daily_headcount covers: var headcount_through_date, default today (UTC). -#}
{% macro headcount_through_day() -%}
    {%- set through = var('headcount_through_date', none) -%}
    {%- if through -%}
        cast('{{ through }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}
