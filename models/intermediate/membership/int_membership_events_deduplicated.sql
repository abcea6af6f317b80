{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_touched_keys('content_hash', 'select content_hash as key_value from (' ~ membership_touched_content_hashes(incremental_watermark()) ~ ') as k') }}",
        post_hook="{{ set_incremental_watermark([ref('stg_admin_service__membership_events')]) }}",
    )
}}

-- depends_on: {{ ref('stg_admin_service__membership_events') }}

{#-
    The deduplicated event set the whole membership history is a function of (semantics §1):
    one row per event, one event per semantic change. Incremental by change: a run recomputes the
    changes (content hashes) of every copy of the event_ids that received a raw row since the last
    run, from every copy of every event_id that has or had one of those changes.
-#}

{%- set since = incremental_watermark() %}

with

valid_events as (

    select * from {{ ref('stg_admin_service__membership_events') }}
    where is_valid

),

{% if since %}
touched_changes as (

    {{ membership_touched_content_hashes(since) }}

),

scoped_event_ids as (

    -- Every event_id with a copy of a touched change: its chosen copy decides whether it takes
    -- part in that change (the fresh event_ids are among them).
    select distinct valid_events.event_id
    from valid_events
    inner join touched_changes on touched_changes.content_hash = valid_events.content_hash

),

{% else %}
scoped_event_ids as (

    select distinct event_id from valid_events

),

{% endif %}
copies as (

    select valid_events.*
    from valid_events
    inner join scoped_event_ids on scoped_event_ids.event_id = valid_events.event_id

),

copies_per_event_id as (

    -- Most events arrive once: find the few with several copies by aggregation, and spend the
    -- window sorts on those only.
    select event_id, count(*) as copies_loaded
    from copies
    group by event_id

),

single_copies as (

    select copies.*, 1 as copies_loaded, copies._loaded_at as first_loaded_at
    from copies
    inner join copies_per_event_id
        on copies_per_event_id.event_id = copies.event_id
        and copies_per_event_id.copies_loaded = 1

),

chosen_among_copies as (

    -- Same event_id: keep one copy, chosen by content (never by arrival order); it was first
    -- known when its earliest identical copy was loaded.
    select
        copies.*,
        copies_per_event_id.copies_loaded,
        min(copies._loaded_at) over (
            partition by copies.event_id, copies.content_hash, copies.emitted_at
        ) as first_loaded_at
    from copies
    inner join copies_per_event_id
        on copies_per_event_id.event_id = copies.event_id
        and copies_per_event_id.copies_loaded > 1
    qualify row_number() over (
        partition by copies.event_id
        order by copies.emitted_at, copies.content_hash, copies._loaded_at, copies.source_position
    ) = 1

),

one_copy_per_event_id as (

    select * from single_copies
    {% if since %}
    where content_hash in (select content_hash from touched_changes)
    {% endif %}
    union all
    select * from chosen_among_copies
    {% if since %}
    where content_hash in (select content_hash from touched_changes)
    {% endif %}

),

changes_per_content as (

    select event_key, content_hash, count(*) as semantic_copies
    from one_copy_per_event_id
    group by event_key, content_hash

),

one_event_per_change as (

    -- Semantic duplicates: a retry with a new event_id carries the same change; keep the earliest.
    select one_copy_per_event_id.*, changes_per_content.semantic_copies
    from one_copy_per_event_id
    inner join changes_per_content
        on changes_per_content.event_key = one_copy_per_event_id.event_key
        and changes_per_content.content_hash = one_copy_per_event_id.content_hash
        and changes_per_content.semantic_copies = 1

    union all

    select one_copy_per_event_id.*, changes_per_content.semantic_copies
    from one_copy_per_event_id
    inner join changes_per_content
        on changes_per_content.event_key = one_copy_per_event_id.event_key
        and changes_per_content.content_hash = one_copy_per_event_id.content_hash
        and changes_per_content.semantic_copies > 1
    qualify row_number() over (
        partition by one_copy_per_event_id.event_key, one_copy_per_event_id.content_hash
        order by one_copy_per_event_id.emitted_at, one_copy_per_event_id.event_id
    ) = 1

),

final as (

    select
        event_id,
        event_type,
        event_key,
        repl_id,
        team_id,
        role,
        team_name,
        parent_team_id,
        merged_into_team_id,
        successor_team_ids,
        okta_user_id,
        effective_at,
        emitted_at,
        actor,
        order_key,
        content_hash,
        source_position,
        copies_loaded,
        semantic_copies,
        emitted_at > {{ dbt.dateadd('day', var('late_event_window_days') | int, 'effective_at') }}
            as is_beyond_late_window,
        first_loaded_at as _loaded_at
    from one_event_per_change

)

select * from final
