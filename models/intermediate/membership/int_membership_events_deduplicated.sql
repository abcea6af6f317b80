{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook=[
            "{{ delete_touched_keys('content_hash', 'select content_hash as key_value from (' ~ membership_touched_content_hashes(incremental_watermark()) ~ ') as k') }}",
            "{{ begin_full_build_buckets() }}",
            "{{ collect_membership_conflicted_event_ids() }}",
        ],
        post_hook=[
            "{{ insert_full_build_buckets() }}",
            "{{ drop_membership_conflicted_event_ids() }}",
            "{{ set_incremental_watermark([ref('stg_admin_service__membership_events')]) }}",
        ],
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
{#- A full build at scale runs per bucket of event key (full_build_buckets.sql). #}
{%- set buckets = full_build_bucket_count() %}

{#-
    Two choices, made on a narrow projection (position, event_id, event key, change, emission):
    the wide rows are read once, to keep the chosen ones. Most events arrive once and most
    changes have one event, so each step finds the few with several by aggregation and sorts
    only those.
#}

{%- set staging = ref('stg_admin_service__membership_events') %}

with

{% if since %}
touched_changes as (

    {{ membership_touched_content_hashes(since) }}

),

copies as (

    -- Every copy of every event_id with a copy of a touched change: its chosen copy decides
    -- whether it takes part in that change (the fresh event_ids are among them). Few rows,
    -- read by two steps below; each scan of staging carries its own filter (a shared CTE over
    -- the whole table would be materialised whole before any filter applies).
    {%- set scoped_event_ids %}
        select scoped.event_id
        from {{ staging }} as scoped
        where scoped.is_valid
            and scoped.content_hash in ({{ small_key_set('select content_hash from touched_changes') }})
    {%- endset %}
    select copies.*
    from {{ staging }} as copies
    where copies.is_valid
        and copies.event_id in ({{ small_key_set(scoped_event_ids) }})

),

{% endif %}
copy_keys as (

    select source_position, event_id, event_key, content_hash, emitted_at, _loaded_at
    {% if since %}
    from copies
    {% else %}
    from {{ staging }}
    where is_valid
    {%- if buckets > 1 %}
        -- This bucket's events, and every copy of an event_id whose copies span buckets (its
        -- chosen copy decides which bucket keeps it, below).
        and (
            {{ full_build_bucket('event_key', buckets) }}
            or event_id in (select event_id from {{ membership_conflicted_event_ids_relation() }})
        )
    {%- endif %}
    {% endif %}

),

copies_per_event_id as (

    select event_id, count(*) as copies_loaded
    from copy_keys
    group by event_id

),

chosen_copies as (

    -- Same event_id: keep one copy, chosen by content (never by arrival order). Its _loaded_at
    -- is also when the event was first known: no identical copy (same emission and content)
    -- sorts before it, so none was loaded earlier.
    select copy_keys.*, 1 as copies_loaded
    from copy_keys
    inner join copies_per_event_id
        on copies_per_event_id.event_id = copy_keys.event_id
        and copies_per_event_id.copies_loaded = 1

    union all

    select copy_keys.*, copies_per_event_id.copies_loaded
    from copy_keys
    inner join copies_per_event_id
        on copies_per_event_id.event_id = copy_keys.event_id
        and copies_per_event_id.copies_loaded > 1
    qualify row_number() over (
        partition by copy_keys.event_id
        order by
            copy_keys.emitted_at, copy_keys.content_hash, copy_keys._loaded_at,
            copy_keys.source_position
    ) = 1

),

changes as (

    select * from chosen_copies
    {% if since %}
    where content_hash in (select content_hash from touched_changes)
    {% elif buckets > 1 %}
    where {{ full_build_bucket('event_key', buckets) }}
    {% endif %}

),

events_per_change as (

    select event_key, content_hash, count(*) as semantic_copies
    from changes
    group by event_key, content_hash

),

kept as (

    -- Semantic duplicates: a retry with a new event_id carries the same change; keep the earliest.
    select changes.source_position, changes.copies_loaded, 1 as semantic_copies
    from changes
    inner join events_per_change
        on events_per_change.event_key = changes.event_key
        and events_per_change.content_hash = changes.content_hash
        and events_per_change.semantic_copies = 1

    union all

    select changes.source_position, changes.copies_loaded, events_per_change.semantic_copies
    from changes
    inner join events_per_change
        on events_per_change.event_key = changes.event_key
        and events_per_change.content_hash = changes.content_hash
        and events_per_change.semantic_copies > 1
    qualify row_number() over (
        partition by changes.event_key, changes.content_hash
        order by changes.emitted_at, changes.event_id
    ) = 1

),

final as (

    select
        copies.event_id,
        copies.event_type,
        copies.event_key,
        copies.repl_id,
        copies.team_id,
        copies.role,
        copies.team_name,
        copies.parent_team_id,
        copies.merged_into_team_id,
        copies.successor_team_ids,
        copies.okta_user_id,
        copies.effective_at,
        copies.emitted_at,
        copies.actor,
        copies.order_key,
        copies.content_hash,
        copies.source_position,
        kept.copies_loaded,
        kept.semantic_copies,
        copies.emitted_at > {{ dbt.dateadd('day', var('late_event_window_days') | int, 'copies.effective_at') }}
            as is_beyond_late_window,
        copies._loaded_at
    -- A full build reads the wide rows once, for the kept positions only.
    from {{ 'copies' if since else staging }} as copies
    inner join kept on kept.source_position = copies.source_position
    {%- if not since and buckets > 1 %}
    where {{ full_build_bucket('copies.event_key', buckets) }}
    {%- endif %}

)

select * from final
