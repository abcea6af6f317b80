{#- The load time a successful run has processed through: the audit instant, or the run start. -#}
{% macro incremental_upper_bound() -%}
    {%- set ts = var('as_known_at', none) -%}
    {%- if ts -%}
        {{ return(ts | string) }}
    {%- endif -%}
    {{ return(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f')) }}
{%- endmacro %}
