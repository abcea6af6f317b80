{#- Post-hook of every watermark-driven incremental model: record what this run processed through. -#}
{% macro set_incremental_watermark() -%}
    {%- if execute -%}
        {%- set rel = incremental_watermarks_relation() -%}
        {%- do run_query("delete from " ~ rel ~ " where model_name = '" ~ this.identifier ~ "'") -%}
        insert into {{ rel }} (model_name, loaded_through, updated_at)
        values (
            '{{ this.identifier }}',
            cast('{{ incremental_upper_bound() }}' as timestamp),
            cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
        )
    {%- endif -%}
{%- endmacro %}
