{#-
    Which repl an Okta user is, over valid time (semantics §7): from each REPL_IDENTITY_LINKED on,
    until the user is linked to another repl.
-#}

with

links as (

    select *
    from {{ ref('int_membership_events_deduplicated') }}
    where event_type = 'REPL_IDENTITY_LINKED'

),

last_per_instant as (

    select *
    from links
    qualify row_number() over (
        partition by okta_user_id, effective_at order by order_key desc
    ) = 1

),

changes as (

    select
        *,
        lag(repl_id) over (partition by okta_user_id order by effective_at) as previous_repl_id
    from last_per_instant

),

versions as (

    select * from changes
    where previous_repl_id is null or previous_repl_id <> repl_id

),

final as (

    select
        okta_user_id,
        repl_id,
        effective_at as valid_from,
        coalesce(
            lead(effective_at) over (partition by okta_user_id order by effective_at),
            {{ open_valid_to() }}
        ) as valid_to,
        lead(effective_at) over (partition by okta_user_id order by effective_at) is null
            as is_current,
        event_id as linked_by_event_id,
        _loaded_at as recorded_at
    from versions

)

select * from final
