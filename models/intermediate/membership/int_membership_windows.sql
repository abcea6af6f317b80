{{
    config(
        materialized='incremental',
        incremental_strategy='restate',
        restate_key='repl_id',
        restate_end_column='valid_to',
        restate_scope="{{ membership_touched_repls(incremental_watermark()) }}",
        post_hook="{{ set_incremental_watermark([ref('stg_admin_service__membership_events')]) }}",
    )
}}

-- depends_on: {{ ref('stg_admin_service__membership_events') }}
-- depends_on: {{ ref('int_membership_events_deduplicated') }}
-- depends_on: {{ ref('int_team_merge_closure') }}

{#-
    repl ↔ team membership in valid time: the maximal windows over which a (repl, team, role)
    slot is open (semantics §2–§4). Built from the position-space intervals: zero-length ones
    vanish, overlapping or touching ones merge into one window. bridge_repl_team_membership adds
    the current-org restatement at query time.

    Incremental from the affected instant (strategy `restate`): windows that ended before it are
    final (every interval in them closed before it); for each slot of a touched repl, the windows
    reaching it are rebuilt from the intervals that end at or after the start of the first of
    them — exactly the intervals of the islands that can change.
-#}

{%- set since = incremental_watermark() %}

with

{% if since %}
touched_repls as (

    {{ membership_touched_repls(since) }}

),

slot_rebuild_from as (

    select
        existing.repl_id,
        existing.team_id,
        existing.role,
        min(existing.valid_from) as rebuild_from
    from {{ this }} as existing
    inner join touched_repls on touched_repls.repl_id = existing.repl_id
    where existing.valid_to >= touched_repls.affected_from
    group by existing.repl_id, existing.team_id, existing.role

),

{% endif %}
intervals as (

    select intervals.*
    from {{ ref('int_membership_intervals') }} as intervals
    {% if since %}
    inner join touched_repls on touched_repls.repl_id = intervals.repl_id
    left join slot_rebuild_from
        on slot_rebuild_from.repl_id = intervals.repl_id
        and slot_rebuild_from.team_id = intervals.team_id
        and slot_rebuild_from.role = intervals.role
    {% endif %}
    where (intervals.close_at is null or intervals.open_at < intervals.close_at)
    {% if since %}
        and coalesce(intervals.close_at, {{ open_valid_to() }}) >= case
            when slot_rebuild_from.rebuild_from < touched_repls.affected_from
                then slot_rebuild_from.rebuild_from
            else touched_repls.affected_from
        end
    {% endif %}

),

ordered as (

    select
        *,
        coalesce(close_at, {{ open_valid_to() }}) as interval_end,
        max(coalesce(close_at, {{ open_valid_to() }})) over (
            partition by repl_id, team_id, role
            order by open_at, open_order_key
            rows between unbounded preceding and 1 preceding
        ) as previous_max_end
    from intervals

),

islands as (

    select
        *,
        sum(case when previous_max_end is null or open_at > previous_max_end then 1 else 0 end)
            over (
                partition by repl_id, team_id, role
                order by open_at, open_order_key
                rows between unbounded preceding and current row
            ) as island_number
    from ordered

),

windows as (

    -- open_order_key starts with the open instant, so the island's first opener is the row with
    -- the smallest key; every non-zero-length interval ending at valid_to shares one close. An
    -- island that is still open has no close, even when an earlier interval in it had one (closed
    -- and reopened at one instant): max_by skips null values on some engines, so say it.
    select
        repl_id,
        team_id,
        role,
        island_number,
        min(open_at) as valid_from,
        max(interval_end) as valid_to,
        min_by(open_event_id, open_order_key) as opened_by_event_id,
        {{ dbt.bool_or('close_at is null') }} as is_open,
        max_by(close_event_id, interval_end) as last_close_event_id,
        max_by(close_reason, interval_end) as last_close_reason,
        -- Every open, carry and close inside the window shaped it: the latest of them is when
        -- the warehouse knew this row (semantics §4).
        max(open_known_at) as opens_known_at,
        max(close_loaded_at) as closes_known_at
    from islands
    group by repl_id, team_id, role, island_number

),

closed_windows as (

    select
        repl_id,
        team_id,
        role,
        valid_from,
        valid_to,
        opened_by_event_id,
        case when not is_open then last_close_event_id end as closed_by_event_id,
        case when not is_open then last_close_reason end as close_reason,
        case
            when closes_known_at > opens_known_at then closes_known_at else opens_known_at
        end as recorded_at
    from windows

),

final as (

    select
        repl_id,
        team_id,
        role,
        valid_from,
        valid_to,
        valid_to = {{ open_valid_to() }} as is_current,
        opened_by_event_id,
        closed_by_event_id,
        close_reason,
        recorded_at
    from closed_windows

)

select * from final
