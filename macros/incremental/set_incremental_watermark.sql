{#-
    Post-hook of every watermark-driven incremental model: record, per upstream staging model,
    what this run processed through — the newest load time present in it. Never the wall clock:
    a run that selected this model alone, while staging lagged behind raw, must not skip the rows
    staging picks up later.
-#}
{% macro set_incremental_watermark(upstreams) -%}
    {%- if execute -%}
        {%- set rel = incremental_watermarks_relation() -%}
        {%- do run_query("delete from " ~ rel ~ " where model_name = '" ~ this.identifier ~ "'") -%}
        insert into {{ rel }} (model_name, upstream_name, loaded_through, updated_at)
        {%- for upstream in upstreams %}
        select
            '{{ this.identifier }}',
            '{{ upstream.identifier }}',
            coalesce((select max(_loaded_at) from {{ upstream }}), cast('1900-01-01' as timestamp)),
            cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}
