{#-
    Each Okta user's lifecycle status over time, from user.lifecycle.* System Log events
    (deduplicated by uuid, ordered by published time then uuid).
-#}

with

lifecycle_events as (

    select *
    from {{ ref('stg_okta__system_log_events') }}
    where is_valid and lifecycle_status is not null
    qualify row_number() over (
        partition by okta_event_id order by _loaded_at, source_position
    ) = 1

),

last_per_instant as (

    select *
    from lifecycle_events
    qualify row_number() over (
        partition by okta_user_id, published_at order by okta_event_id desc
    ) = 1

),

changes as (

    select
        *,
        lag(lifecycle_status) over (partition by okta_user_id order by published_at)
            as previous_status
    from last_per_instant

),

versions as (

    select * from changes
    where previous_status is null or previous_status <> lifecycle_status

),

logins as (

    select okta_user_id, okta_login
    from lifecycle_events
    where okta_login is not null
    qualify row_number() over (partition by okta_user_id order by published_at desc, okta_event_id desc) = 1

),

final as (

    select
        versions.okta_user_id,
        logins.okta_login,
        versions.lifecycle_status,
        versions.published_at as valid_from,
        coalesce(
            lead(versions.published_at) over (
                partition by versions.okta_user_id order by versions.published_at
            ),
            {{ open_valid_to() }}
        ) as valid_to,
        versions.okta_event_id as changed_by_okta_event_id,
        versions._loaded_at as recorded_at
    from versions
    left join logins on logins.okta_user_id = versions.okta_user_id

)

select * from final
