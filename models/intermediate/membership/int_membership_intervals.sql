{{
    config(
        materialized='incremental',
        incremental_strategy='restate',
        restate_key='repl_id',
        restate_end_column='close_at',
        restate_scope="{{ membership_touched_repls(incremental_watermark()) }}",
        pre_hook="{{ begin_full_build_buckets() }}",
        post_hook=[
            "{{ insert_full_build_buckets() }}",
            "{{ set_incremental_watermark([ref('stg_admin_service__membership_events')]) }}",
        ],
    )
}}

-- depends_on: {{ ref('stg_admin_service__membership_events') }}
-- depends_on: {{ ref('int_team_merge_closure') }}

{#-
    Membership in position space (semantics §2–§3). Every open — an ADDED, or a merge carrying an
    open slot into the surviving team — contributes the interval from its position to the first
    close after it. A slot is open exactly on the union of these intervals, so each open is
    resolved independently with interval lookups; only merge carries depend on earlier results,
    and they are resolved level by level (a carry at level k+1 comes from an interval at level k
    closed by a merge). Zero-length intervals are kept here (orphan detection and carries need
    them) and vanish in int_membership_windows.

    Incremental from the affected instant (strategy `restate`): for each touched repl, intervals
    that closed before `affected_from` depend only on earlier events and stay; the rest are
    recomputed — opens from `affected_from` on, plus the earlier opens whose interval reached it
    (re-resolved against the new events, with their carry depth and knowledge time as stored).
-#}

{%- set since = incremental_watermark() %}
{#- A full build at scale runs per bucket of repl (full_build_buckets.sql). #}
{%- set buckets = full_build_bucket_count() %}
{%- set max_depth = var('membership_max_merge_depth') | int %}

{#-
    The event table is read by two steps (membership events, team closers). A full build shares
    one CTE over it; an incremental run reads the table in each step, under that step's filter:
    a shared CTE would be materialised whole, every event, before any filter applied.
#}
{%- set events = ref('int_membership_events_deduplicated') if since else 'events' %}

with

{% if not since %}
events as (

    select * from {{ ref('int_membership_events_deduplicated') }}

),

{% endif %}
{% if since %}
touched_repls as (

    {{ membership_touched_repls(since) }}

),

reaching_opens as (

    -- Opens before the affected instant whose interval reaches it: their close may change.
    select
        existing.repl_id,
        existing.team_id,
        existing.role,
        existing.carry_depth,
        existing.open_event_id,
        existing.open_order_key,
        existing.open_at,
        existing.open_loaded_at,
        existing.open_known_at
    from {{ this }} as existing
    inner join touched_repls on touched_repls.repl_id = existing.repl_id
    where existing.open_at < touched_repls.affected_from
        and (existing.close_at is null or existing.close_at >= touched_repls.affected_from)

),

recompute_from as (

    -- Closers before the earliest open to resolve can close nothing that is resolved.
    select
        touched_repls.repl_id,
        touched_repls.affected_from,
        case
            when min(reaching_opens.open_at) < touched_repls.affected_from
                then min(reaching_opens.open_at)
            else touched_repls.affected_from
        end as closers_from
    from touched_repls
    left join reaching_opens on reaching_opens.repl_id = touched_repls.repl_id
    group by touched_repls.repl_id, touched_repls.affected_from

),

{% endif %}
membership_events as (

    select
        events.*,
        {% if since %}
        events.effective_at >= recompute_from.affected_from as is_new_open_scope
        {% else %}
        true as is_new_open_scope
        {% endif %}
    from {{ events }} as events
    {% if since %}
    inner join recompute_from
        on recompute_from.repl_id = events.repl_id
        and events.effective_at >= recompute_from.closers_from
    {% endif %}
    where events.event_type in ('MEMBERSHIP_ADDED', 'MEMBERSHIP_REMOVED')
    {%- if buckets > 1 %}
        and {{ full_build_bucket('events.repl_id', buckets) }}
    {%- endif %}

),

removals as (

    select repl_id, team_id, role, event_id, order_key, effective_at, _loaded_at
    from membership_events
    where event_type = 'MEMBERSHIP_REMOVED' and role is not null

    union all

    -- A removal without a role closes every role of the repl in that team.
    select
        membership_events.repl_id,
        membership_events.team_id,
        roles.role,
        membership_events.event_id,
        membership_events.order_key,
        membership_events.effective_at,
        membership_events._loaded_at
    from membership_events
    cross join (select 'primary' as role union all select 'secondary' as role) as roles
    where membership_events.event_type = 'MEMBERSHIP_REMOVED' and membership_events.role is null

),

removal_closers as (

    select
        *,
        lag(order_key) over (partition by repl_id, team_id, role order by order_key)
            as prev_order_key
    from removals

),

team_closers as (

    select
        team_id,
        event_id,
        event_type,
        merged_into_team_id,
        order_key,
        effective_at,
        _loaded_at,
        lag(order_key) over (partition by team_id order by order_key) as prev_order_key
    from {{ events }} as events
    where event_type in ('TEAM_MERGED', 'TEAM_SPLIT')

),

primary_adds as (

    select
        repl_id,
        team_id,
        event_id,
        order_key,
        effective_at,
        _loaded_at,
        lag(order_key) over (partition by repl_id order by order_key) as prev_order_key,
        case
            when lag(team_id) over (partition by repl_id order by order_key) = team_id then 0
            else 1
        end as starts_run
    from membership_events
    where event_type = 'MEMBERSHIP_ADDED' and role = 'primary'

),

primary_add_runs as (

    select
        *,
        sum(starts_run) over (
            partition by repl_id order by order_key rows between unbounded preceding and current row
        ) as run_number
    from primary_adds

),

primary_add_displacers as (

    -- A primary ADDED displaces the open primary slot of any other team; for a slot in its own
    -- team it is a no-op, and the displacer is the first ADDED of the next run in another team.
    select
        this_add.*,
        next_run.event_id as next_other_event_id,
        next_run.order_key as next_other_order_key,
        next_run.effective_at as next_other_at,
        next_run._loaded_at as next_other_loaded_at
    from primary_add_runs as this_add
    left join primary_add_runs as next_run
        on next_run.repl_id = this_add.repl_id
        and next_run.run_number = this_add.run_number + 1
        and next_run.starts_run = 1

),

opens_0 as (

    select
        repl_id,
        team_id,
        role,
        0 as carry_depth,
        event_id as open_event_id,
        order_key as open_order_key,
        effective_at as open_at,
        _loaded_at as open_loaded_at,
        _loaded_at as open_known_at
    from membership_events
    where event_type = 'MEMBERSHIP_ADDED' and is_new_open_scope
    {% if since %}

    union all

    select * from reaching_opens where carry_depth = 0
    {% endif %}

),

{% for level in range(max_depth + 1) %}
closed_{{ level }} as (

    {%- if level == 0 %}
    {{ membership_first_close(membership_close_opens('opens_0', direct=true)) }}
    {%- else %}
    {{ membership_first_close(membership_close_opens(
        'opens_' ~ level,
        direct=false,
        removals='carried_removal_closers',
        adds='carried_primary_add_displacers',
    )) }}
    {%- endif %}

),

{%- if level == 0 %}

-- Merges carry few memberships: later levels look up the closers of those repls only.
carried_repls as (

    select repl_id from closed_0 where close_reason = 'merged'
    {%- if since %}
    union
    select repl_id from reaching_opens where carry_depth > 0
    {%- endif %}

),

carried_removal_closers as (

    select * from removal_closers
    where repl_id in (select repl_id from carried_repls)

),

carried_primary_add_displacers as (

    select * from primary_add_displacers
    where repl_id in (select repl_id from carried_repls)

),
{%- endif %}

opens_{{ level + 1 }} as (

    -- A merge carries every slot it closed into the surviving team at the same position. Two
    -- intervals of one slot closed by the same merge (an ADDED that was a no-op on an open slot)
    -- carry the same open, possibly at different levels: it is derived once, at the first.
    -- A carried open is known once both the merge and the interval it carries are known.
    select
        closed.repl_id,
        closed.merged_into_team_id as team_id,
        closed.role,
        {{ level + 1 }} as carry_depth,
        closed.team_close_event_id as open_event_id,
        closed.team_close_order_key as open_order_key,
        closed.team_close_at as open_at,
        closed.team_close_loaded_at as open_loaded_at,
        min(
            case
                when closed.open_known_at > closed.team_close_loaded_at then closed.open_known_at
                else closed.team_close_loaded_at
            end
        ) as open_known_at
    from closed_{{ level }} as closed
    where closed.close_reason = 'merged'
    {%- for earlier in range(1, level + 1) %}
        and not exists (
            select 1
            from opens_{{ earlier }} as earlier
            where earlier.repl_id = closed.repl_id
                and earlier.team_id = closed.merged_into_team_id
                and earlier.role = closed.role
                and earlier.open_order_key = closed.team_close_order_key
        )
    {%- endfor %}
    group by
        closed.repl_id,
        closed.merged_into_team_id,
        closed.role,
        closed.team_close_event_id,
        closed.team_close_order_key,
        closed.team_close_at,
        closed.team_close_loaded_at
    {% if since %}

    union all

    select * from reaching_opens where carry_depth = {{ level + 1 }}
    {% endif %}

),

{% endfor %}
intervals as (

    {% for level in range(max_depth + 1) %}
    select * from closed_{{ level }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        repl_id,
        team_id,
        role,
        carry_depth,
        open_event_id,
        open_order_key,
        open_at,
        open_loaded_at,
        open_known_at,
        case close_reason
            when 'removed' then removal_event_id
            when 'merged' then team_close_event_id
            when 'split' then team_close_event_id
            when 'displaced' then displacement_event_id
        end as close_event_id,
        first_close_order_key as close_order_key,
        case close_reason
            when 'removed' then removal_at
            when 'merged' then team_close_at
            when 'split' then team_close_at
            when 'displaced' then displacement_at
        end as close_at,
        case close_reason
            when 'removed' then removal_loaded_at
            when 'merged' then team_close_loaded_at
            when 'split' then team_close_loaded_at
            when 'displaced' then displacement_loaded_at
        end as close_loaded_at,
        close_reason,
        -- A carry that would need one more level than configured: must never happen
        -- (assert_membership_merge_depth_sufficient).
        carry_depth = {{ max_depth }} and close_reason = 'merged' as needs_deeper_carry
    from intervals

)

select * from final
