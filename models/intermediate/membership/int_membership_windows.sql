{{
    config(
        materialized='incremental',
        incremental_strategy='restate',
        restate_key='repl_id',
        restate_end_column='valid_to',
        restate_scope="{{ membership_touched_repls(incremental_watermark()) }}",
        pre_hook="{{ begin_full_build_buckets() }}",
        post_hook=[
            "{{ insert_full_build_buckets() }}",
            "{{ set_incremental_watermark([ref('stg_admin_service__membership_events')]) }}",
        ],
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
    opener; a close between two windows decides that they are two), and at each merge into the
    team what was known of the merged team's slot (whether there was anything to carry).

    Incremental from the affected instant (strategy `restate`): windows that ended before it are
    final (every interval in them closed before it, and every interval of the slot that opened up
    to their end closed before it). For each slot of a touched repl the rest is rebuilt from the
    intervals that opened after the last final window; the knowledge time of everything up to that
    window is its recorded_at.
-#}

{%- set since = incremental_watermark() %}
{#- A full build at scale runs per bucket of repl (full_build_buckets.sql). #}
{%- set buckets = full_build_bucket_count() %}
{%- set max_depth = var('membership_max_merge_depth') | int %}

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
repl_intervals as (

    select
        intervals.repl_id,
        intervals.team_id,
        intervals.role,
        intervals.open_event_id,
        intervals.open_order_key,
        intervals.open_at,
        intervals.close_event_id,
        intervals.close_at,
        intervals.close_reason,
        case
            when intervals.close_loaded_at > intervals.open_known_at then intervals.close_loaded_at
            else intervals.open_known_at
        end as known_at
    from {{ ref('int_membership_intervals') }} as intervals
    {% if since %}
    inner join touched_repls on touched_repls.repl_id = intervals.repl_id
    {% elif buckets > 1 %}
    where {{ full_build_bucket('intervals.repl_id', buckets) }}
    {% endif %}

),

team_merges as (

    select team_id, merged_into_team_id, effective_at, order_key
    from {{ ref('int_membership_events_deduplicated') }}
    where event_type = 'TEAM_MERGED'

),

{#-
    What a merge would have carried. A slot of the surviving team holds a carried interval only
    if the merged team's slot was open at the merge, so its windows depend on everything known
    of that slot up to the merge, also when nothing was carried: a late close before the merge
    takes a carry away. Each merge gives the surviving slot a zero-length interval at the merge
    with that knowledge (only the knowledge counts), and so on along later merges of the
    surviving team: a carry of a carry.
#}
{% for level in range(1, max_depth + 1) %}
merge_knowledge_{{ level }} as (

    select
        earlier.repl_id,
        team_merges.merged_into_team_id as team_id,
        earlier.role,
        team_merges.effective_at as open_at,
        team_merges.order_key as open_order_key,
        max(earlier.known_at) as known_at
    from {{ 'repl_intervals' if level == 1 else 'merge_knowledge_' ~ (level - 1) }} as earlier
    inner join team_merges
        on team_merges.team_id = earlier.team_id
        and team_merges.order_key >= earlier.open_order_key
    group by
        earlier.repl_id,
        team_merges.merged_into_team_id,
        earlier.role,
        team_merges.effective_at,
        team_merges.order_key

),

{% endfor %}
merge_knowledge as (

    {%- for level in range(1, max_depth + 1) %}
    select * from merge_knowledge_{{ level }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

candidate_intervals as (

    select * from repl_intervals

    union all

    -- Only where the surviving slot has windows at all (a slot never open has none to date).
    select
        merge_knowledge.repl_id,
        merge_knowledge.team_id,
        merge_knowledge.role,
        cast(null as {{ dbt.type_string() }}) as open_event_id,
        merge_knowledge.open_order_key,
        merge_knowledge.open_at,
        cast(null as {{ dbt.type_string() }}) as close_event_id,
        merge_knowledge.open_at as close_at,
        cast(null as {{ dbt.type_string() }}) as close_reason,
        merge_knowledge.known_at
    from merge_knowledge
    inner join (
        select distinct repl_id, team_id, role from repl_intervals
    ) as slots
        on slots.repl_id = merge_knowledge.repl_id
        and slots.team_id = merge_knowledge.team_id
        and slots.role = merge_knowledge.role

),

slot_intervals as (

    select
        candidate_intervals.*,
        {% if since %}
        final_windows.known_through as known_before
        {% else %}
        cast(null as timestamp) as known_before
        {% endif %}
    from candidate_intervals
    {% if since %}
    left join final_windows
        on final_windows.repl_id = candidate_intervals.repl_id
        and final_windows.team_id = candidate_intervals.team_id
        and final_windows.role = candidate_intervals.role
    where final_windows.final_through is null
        or candidate_intervals.open_at > final_windows.final_through
    {% endif %}

),

ordered as (

    -- Zero-length intervals open no window but count for the knowledge of the next window end at
    -- or after them, so they stay in the one sort of the slot: everything below is computed from
    -- running values over (open_at, open_order_key).
    select
        *,
        close_at is null or open_at < close_at as has_length,
        max(case when close_at is null or open_at < close_at then coalesce(close_at, {{ open_valid_to() }}) end) over (
            partition by repl_id, team_id, role
            order by open_at, open_order_key
            rows between unbounded preceding and 1 preceding
        ) as previous_max_end,
        max(known_at) over (
            partition by repl_id, team_id, role
            order by open_at, open_order_key
            rows between unbounded preceding and current row
        ) as known_so_far
    from slot_intervals

),

islands as (

    select
        *,
        has_length and (previous_max_end is null or open_at > previous_max_end) as starts_window,
        sum(
            case
                when has_length and (previous_max_end is null or open_at > previous_max_end) then 1
                else 0
            end
        ) over (
            partition by repl_id, team_id, role
            order by open_at, open_order_key
            rows between unbounded preceding and current row
        ) as island_number
    from ordered

),

knowledge_groups as (

    -- A zero-length interval after the end of everything before it belongs to the next window
    -- (it opens before that window ends); every other interval belongs to its island. The last
    -- row of a group is the last one at or before the window's end, so the largest running
    -- knowledge in the group is what was known of the slot up to the window's end.
    select
        *,
        island_number + case
            when not has_length and (previous_max_end is null or open_at > previous_max_end) then 1
            else 0
        end as window_number
    from islands

),

windows as (

    -- The island's first opener starts it; every interval with length ending at valid_to
    -- shares one close. An island that is still open has no close, even when an earlier
    -- interval in it had one (closed and reopened at one instant). Zero-length intervals take no
    -- part but in the knowledge (their end sorts below every real one).
    select
        repl_id,
        team_id,
        role,
        window_number,
        max(case when starts_window then open_at end) as valid_from,
        max(case when has_length then coalesce(close_at, {{ open_valid_to() }}) end) as valid_to,
        max(case when starts_window then open_event_id end) as opened_by_event_id,
        {{ dbt.bool_or('has_length and close_at is null') }} as is_open,
        max_by(
            close_event_id,
            case when has_length then coalesce(close_at, {{ open_valid_to() }}) else cast('1900-01-01' as timestamp) end
        ) as last_close_event_id,
        max_by(
            close_reason,
            case when has_length then coalesce(close_at, {{ open_valid_to() }}) else cast('1900-01-01' as timestamp) end
        ) as last_close_reason,
        max(known_so_far) as known_at,
        max(known_before) as known_before
    from knowledge_groups
    group by repl_id, team_id, role, window_number
    having {{ dbt.bool_or('has_length') }}

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
        case when not is_open then last_close_event_id end as closed_by_event_id,
        case when not is_open then last_close_reason end as close_reason,
        case
            when known_before > known_at then known_before
            else known_at
        end as recorded_at
    from windows

)

select * from final
