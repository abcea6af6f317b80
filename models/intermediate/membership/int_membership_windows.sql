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

    recorded_at is the latest knowledge time of every interval of the slot that opened up to the
    window's end — zero-length ones included (a slot opened and closed at valid_from decides the
    opener; a close between two windows decides that they are two).

    Incremental from the affected instant (strategy `restate`): windows that ended before it are
    final (every interval in them closed before it, and every interval of the slot that opened up
    to their end closed before it). For each slot of a touched repl the rest is rebuilt from the
    intervals that opened after the last final window; the knowledge time of everything up to that
    window is its recorded_at.
-#}

{%- set since = incremental_watermark() %}

with

{% if since %}
touched_repls as (

    {{ membership_touched_repls(since) }}

),

final_windows as (

    -- Per slot, the last window that stays, and what was known by its end.
    select
        existing.repl_id,
        existing.team_id,
        existing.role,
        max(existing.valid_to) as final_through,
        max(existing.recorded_at) as known_through
    from {{ this }} as existing
    inner join touched_repls on touched_repls.repl_id = existing.repl_id
    where existing.valid_to < touched_repls.affected_from
    group by existing.repl_id, existing.team_id, existing.role

),

{% endif %}
slot_intervals as (

    select
        intervals.*,
        case
            when intervals.close_loaded_at > intervals.open_known_at then intervals.close_loaded_at
            else intervals.open_known_at
        end as known_at,
        {% if since %}
        final_windows.known_through as known_before
        {% else %}
        cast(null as timestamp) as known_before
        {% endif %}
    from {{ ref('int_membership_intervals') }} as intervals
    {% if since %}
    inner join touched_repls on touched_repls.repl_id = intervals.repl_id
    left join final_windows
        on final_windows.repl_id = intervals.repl_id
        and final_windows.team_id = intervals.team_id
        and final_windows.role = intervals.role
    where final_windows.final_through is null
        or intervals.open_at > final_windows.final_through
    {% endif %}

),

intervals as (

    select * from slot_intervals
    where close_at is null or open_at < close_at

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
        max_by(close_reason, interval_end) as last_close_reason
    from islands
    group by repl_id, team_id, role, island_number

),

knowledge as (

    -- Every interval of the slot (zero-length ones too) and every window end, in time order; at
    -- a window end, the running maximum is what was known of the slot up to it.
    select repl_id, team_id, role, open_at as instant, 0 as is_window_end, known_at, known_before
    from slot_intervals

    union all

    select repl_id, team_id, role, valid_to, 1, cast(null as timestamp), cast(null as timestamp)
    from windows

),

known_by_window_end as (

    select
        repl_id,
        team_id,
        role,
        instant as valid_to,
        {%- set slot_so_far = 'partition by repl_id, team_id, role order by instant, is_window_end rows between unbounded preceding and current row' %}
        max(known_at) over ({{ slot_so_far }}) as known_at,
        max(known_before) over ({{ slot_so_far }}) as known_before,
        is_window_end
    from knowledge

),

final as (

    select
        windows.repl_id,
        windows.team_id,
        windows.role,
        windows.valid_from,
        windows.valid_to,
        windows.valid_to = {{ open_valid_to() }} as is_current,
        windows.opened_by_event_id,
        case when not windows.is_open then windows.last_close_event_id end as closed_by_event_id,
        case when not windows.is_open then windows.last_close_reason end as close_reason,
        case
            when known.known_before > known.known_at then known.known_before
            else known.known_at
        end as recorded_at
    from windows
    inner join known_by_window_end as known
        on known.repl_id = windows.repl_id
        and known.team_id = windows.team_id
        and known.role = windows.role
        and known.valid_to = windows.valid_to
        and known.is_window_end = 1

)

select * from final
