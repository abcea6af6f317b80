{#-
    For a bucketed full build of int_membership_events_deduplicated (full_build_buckets.sql).
    That model buckets by event key, so both of its choices — one copy per event_id, one event
    per change (event key, content) — see whole groups, except for an event_id whose copies
    name different event keys in different buckets (a producer bug, kept: the copy chosen by
    content decides). Those event_ids are collected first, each bucket reads all their copies,
    and keeps the event where its chosen copy's key falls.

    Collected in as many passes over event_id buckets as the build has buckets, so no pass holds
    more than a bucket's share of event_ids; the table is dropped by the model's post-hook.
-#}

{% macro membership_conflicted_event_ids_relation() -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__conflicted_event_ids'})) }}
{%- endmacro %}

{% macro collect_membership_conflicted_event_ids() -%}
    {%- set buckets = full_build_bucket_count() -%}
    {%- if execute and buckets > 1 -%}
        {%- set rel = membership_conflicted_event_ids_relation() -%}
        {%- do run_query('drop table if exists ' ~ rel) -%}
        {%- for pass in range(buckets) -%}
            {%- do run_query(
                ('create table ' ~ rel ~ ' as' if loop.first else 'insert into ' ~ rel) ~ '
                select event_id
                from ' ~ ref('stg_admin_service__membership_events') ~ '
                where is_valid and ' ~ hash_bucket('event_id', buckets) ~ ' = ' ~ pass ~ '
                group by event_id
                having min(' ~ hash_bucket('event_key', buckets) ~ ') <> max('
                    ~ hash_bucket('event_key', buckets) ~ ')'
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro drop_membership_conflicted_event_ids() -%}
    {%- if execute -%}
        drop table if exists {{ membership_conflicted_event_ids_relation() }}
    {%- endif -%}
{%- endmacro %}
