{#-
    Every decodable event a source sent that the contracts reject, with the reason. Expected dirt:
    reported here and by warn-level tests, never silently dropped.
-#}

with

admin_service as (

    select
        'admin_service' as source_system,
        source_position,
        event_id,
        event_type,
        rejection_reason,
        _loaded_at
    from {{ ref('stg_admin_service__membership_events') }}
    where not is_valid

),

okta as (

    select
        'okta' as source_system,
        source_position,
        okta_event_id as event_id,
        event_type,
        rejection_reason,
        _loaded_at
    from {{ ref('stg_okta__system_log_events') }}
    where not is_valid

),

zendesk as (

    select
        'zendesk' as source_system,
        source_position,
        ticket_event_id as event_id,
        event_type,
        rejection_reason,
        _loaded_at
    from {{ ref('stg_zendesk__ticket_events') }}
    where not is_valid

),

final as (

    select * from admin_service
    union all
    select * from okta
    union all
    select * from zendesk

)

select * from final
