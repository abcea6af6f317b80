{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_touched_keys('repl_id', 'select repl_id as key_value from (' ~ membership_touched_repls(incremental_watermark()) ~ ') as t') }}",
        post_hook="{{ set_incremental_watermark([ref('stg_admin_service__membership_events')]) }}",
    )
}}

-- depends_on: {{ ref('stg_admin_service__membership_events') }}
-- depends_on: {{ ref('int_membership_events_deduplicated') }}
-- depends_on: {{ ref('int_team_merge_closure') }}

{#-
    repl ↔ team membership in valid time: the maximal windows over which a (repl, team, role)
    slot is open (semantics §2–§5). Built from the position-space intervals: zero-length ones
    vanish, overlapping or touching ones merge into one window.
-#}

{%- set since = incremental_watermark() %}

with

intervals as (

    select intervals.*
    from {{ ref('int_membership_intervals') }} as intervals
    {% if since %}
    inner join ({{ membership_touched_repls(since) }}) as touched_repls
        on touched_repls.repl_id = intervals.repl_id
    {% endif %}
    where intervals.close_at is null or intervals.open_at < intervals.close_at

),

restated as (

    select * from {{ ref('int_teams_restated') }}

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
        windows.repl_id,
        windows.team_id,
        windows.role,
        windows.valid_from,
        windows.valid_to,
        windows.valid_to = {{ open_valid_to() }} as is_current,
        coalesce(restated.team_id_restated, windows.team_id) as team_id_restated,
        windows.opened_by_event_id,
        windows.closed_by_event_id,
        windows.close_reason,
        windows.recorded_at
    from closed_windows as windows
    left join restated on restated.team_id = windows.team_id

)

select * from final
