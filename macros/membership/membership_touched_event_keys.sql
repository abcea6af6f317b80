{#-
    Event keys (`repl:<id>` / `team:<id>`) whose deduplicated events may change because raw rows
    were loaded after `since`: the keys of those rows, and the keys of every other copy of the
    same event_ids (a conflicting copy can move an event from one key to another).
-#}
{% macro membership_touched_event_keys(since) -%}
    select distinct copies.event_key
    from {{ ref('stg_admin_service__membership_events') }} as copies
    where copies.is_valid
      and copies.event_id in (
          select fresh.event_id
          from {{ ref('stg_admin_service__membership_events') }} as fresh
          where fresh._loaded_at > cast('{{ since }}' as timestamp)
            and fresh.is_valid
      )
{%- endmacro %}
