{#-
    Repls over valid time (SCD2): their current Okta identity and its lifecycle status. A new
    version starts when the repl is linked to an Okta user or that user's status changes.
-#}

with

links as (

    select repl_id, okta_user_id, effective_at, order_key
    from {{ ref('int_membership_events_deduplicated') }}
    where event_type = 'REPL_IDENTITY_LINKED'

),

statuses as (

    select * from {{ ref('int_okta_user_statuses') }}

),

first_seen as (

    select repl_id, min(effective_at) as first_seen_at
    from {{ ref('int_membership_events_deduplicated') }}
    where repl_id is not null
    group by repl_id

),

linked_users as (

    select distinct repl_id, okta_user_id from links

),

change_points as (

    select repl_id, first_seen_at as changed_at from first_seen
    union
    select repl_id, effective_at from links
    union
    select linked_users.repl_id, statuses.valid_from
    from linked_users
    inner join statuses on statuses.okta_user_id = linked_users.okta_user_id

),

current_user_at as (

    select
        change_points.repl_id,
        change_points.changed_at,
        links.okta_user_id
    from change_points
    left join links
        on links.repl_id = change_points.repl_id
        and links.effective_at <= change_points.changed_at
    qualify row_number() over (
        partition by change_points.repl_id, change_points.changed_at
        order by links.order_key desc nulls last
    ) = 1

),

states as (

    select
        current_user_at.repl_id,
        current_user_at.changed_at,
        current_user_at.okta_user_id,
        statuses.okta_login,
        case
            when current_user_at.okta_user_id is null then 'unlinked'
            else coalesce(statuses.lifecycle_status, 'unknown')
        end as lifecycle_status
    from current_user_at
    left join statuses
        on statuses.okta_user_id = current_user_at.okta_user_id
        and statuses.valid_from <= current_user_at.changed_at
        and current_user_at.changed_at < statuses.valid_to

),

changes as (

    {%- set previous = 'over (partition by repl_id order by changed_at)' %}
    select
        *,
        row_number() {{ previous }} = 1
        or okta_user_id is distinct from lag(okta_user_id) {{ previous }}
        or lifecycle_status is distinct from lag(lifecycle_status) {{ previous }}
            as is_change
    from states

),

versions as (

    select * from changes
    where is_change

),

hires as (

    select linked_users.repl_id, min(statuses.valid_from) as hired_at
    from linked_users
    inner join statuses on statuses.okta_user_id = linked_users.okta_user_id
    where statuses.lifecycle_status = 'active'
    group by linked_users.repl_id

),

final as (

    select
        versions.repl_id,
        versions.okta_user_id,
        versions.okta_login,
        versions.lifecycle_status,
        versions.lifecycle_status = 'active' as is_active,
        hires.hired_at,
        case
            when versions.lifecycle_status in ('deprovisioned', 'deleted') then versions.changed_at
        end as terminated_at,
        versions.changed_at as valid_from,
        coalesce(
            lead(versions.changed_at) over (partition by versions.repl_id order by versions.changed_at),
            {{ open_valid_to() }}
        ) as valid_to,
        lead(versions.changed_at) over (partition by versions.repl_id order by versions.changed_at)
            is null as is_current
    from versions
    left join hires on hires.repl_id = versions.repl_id

)

select * from final
