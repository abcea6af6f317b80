{#-
    The changes (`content_hash`) whose deduplicated event may differ because raw rows were loaded
    after `since`: the content of every copy of those rows' event_ids. Deduplication links rows
    only through event_id (exact duplicates) and content_hash (semantic duplicates; the hash covers
    the event key), so a row outside these changes keeps its chosen copy and its winner: its
    event_id has no new copy, and no new copy joined its change.
-#}
{% macro membership_touched_content_hashes(since) -%}
    select distinct copies.content_hash
    from {{ ref('stg_admin_service__membership_events') }} as copies
    where copies.is_valid
      and copies.event_id in ({{ membership_fresh_event_ids(since) }})
{%- endmacro %}
