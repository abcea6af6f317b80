{#-
    The where-clause fragment that makes an append-only staging model read only raw rows it has
    not seen: rows loaded after the newest row it holds (minus the lookback, in which case rows
    already present are skipped by position).
-#}
{% macro new_raw_rows() -%}
    {%- if this is not none and is_incremental() -%}
        {%- set lookback = incremental_lookback_minutes() | int -%}
        {%- set since -%}
            (select {{ dbt.dateadd('minute', -lookback, "coalesce(max(_loaded_at), cast('1900-01-01' as timestamp))") }} from {{ this }})
        {%- endset %}
        and _loaded_at > {{ since }}
        {%- if lookback > 0 %}
        and _source_position not in (select source_position from {{ this }} where _loaded_at > {{ since }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
