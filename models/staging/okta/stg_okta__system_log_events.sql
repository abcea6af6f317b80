{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
    )
}}

{#-
    Okta System Log events, parsed. Only user.lifecycle.* events drive identity; other event
    types are valid Okta events we do not use (is_lifecycle_event = false), not rejections.
-#}

with

source as (

    select *
    from {{ source('okta', 'okta_system_log') }}
    where {{ loaded_as_known_at('_loaded_at') }}
    {{ new_raw_rows() }}

),

parsed as (

    select
        _source_position as source_position,
        nullif(trim({{ json_text('payload', 'uuid') }}), '') as okta_event_id,
        {{ json_text('payload', 'eventType') }} as event_type,
        {{ json_text('payload', 'target[0].id') }} as okta_user_id,
        {{ json_text('payload', 'target[0].alternateId') }} as okta_login_raw,
        {{ json_text('payload', 'target[0].displayName') }} as display_name_raw,
        {{ json_text('payload', 'outcome.result') }} as outcome_result,
        {{ json_text('payload', 'published') }} as published_text,
        {{ parse_iso_timestamp(json_text('payload', 'published')) }} as published_at_parsed,
        _loaded_at,
        _batch_id
    from source

),

ranged as (

    -- Outside the valid range an instant is a rejection (docs/contracts.md, "Timestamps").
    select
        *,
        case
            when {{ event_timestamp_in_range('published_at_parsed') }} then published_at_parsed
        end as published_at
    from parsed

),

final as (

    select
        source_position,
        okta_event_id,
        event_type,
        okta_user_id,
        {{ mask_pii('okta_login_raw') }} as okta_login,
        {{ mask_pii('display_name_raw') }} as display_name,
        outcome_result,
        published_at,
        case event_type
            when 'user.lifecycle.create' then 'staged'
            when 'user.lifecycle.activate' then 'active'
            when 'user.lifecycle.reactivate' then 'active'
            when 'user.lifecycle.unsuspend' then 'active'
            when 'user.lifecycle.suspend' then 'suspended'
            when 'user.lifecycle.deactivate' then 'deprovisioned'
            when 'user.lifecycle.delete.completed' then 'deleted'
        end as lifecycle_status,
        coalesce(event_type like 'user.lifecycle.%', false) as is_lifecycle_event,
        case
            when okta_event_id is null then 'missing uuid'
            when event_type is null then 'missing eventType'
            when published_text is null then 'missing published'
            when published_at_parsed is null then 'invalid published: ' || published_text
            when published_at is null then 'published out of range: ' || published_text
            when event_type like 'user.lifecycle.%' and okta_user_id is null
                then 'lifecycle event without target user'
        end as rejection_reason,
        _loaded_at,
        _batch_id
    from ranged

)

select *, rejection_reason is null as is_valid from final
