{#-
    Lower load-time bound of an incremental run for one upstream staging model: what this model
    processed of it through last time, minus the lookback. None on a full build (and at parse
    time), which callers read as "process everything". Stored by set_incremental_watermark (a
    post-hook), so a run that fails leaves it unchanged and the next run redoes the work.
-#}
{% macro incremental_watermark(upstream_name='stg_admin_service__membership_events') -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rel = incremental_watermarks_relation() -%}
    {%- set result = run_query(
        "select max(loaded_through) from " ~ rel ~ " where model_name = '" ~ this.identifier
        ~ "' and upstream_name = '" ~ upstream_name ~ "'"
    ) -%}
    {%- set value = result.columns[0].values()[0] -%}
    {%- if value is none -%}
        {{ return('1900-01-01 00:00:00') }}
    {%- endif -%}
    {%- if value is string -%}
        {%- set value = modules.datetime.datetime.fromisoformat(value) -%}
    {%- endif -%}
    {%- set since = value - modules.datetime.timedelta(minutes=incremental_lookback_minutes() | int) -%}
    {{ return(since.strftime('%Y-%m-%d %H:%M:%S.%f')) }}
{%- endmacro %}
