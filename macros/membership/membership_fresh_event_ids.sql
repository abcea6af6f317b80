{#-
    The event_ids with a valid raw row loaded after `since`. Every "what may change" scope starts
    here and then takes *every* copy of these ids, old ones included: a conflicting copy can move
    an event to another key, instant or team.
-#}
{% macro membership_fresh_event_ids(since) -%}
    {%- set fresh -%}
    select fresh.event_id
    from {{ ref('stg_admin_service__membership_events') }} as fresh
    where fresh._loaded_at > cast('{{ since }}' as timestamp)
      and fresh.is_valid
    {%- endset -%}
    {{ small_key_set(fresh) }}
{%- endmacro %}
