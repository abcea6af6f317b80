{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
    )
}}

{#- Zendesk ticket events, parsed and validated; the assignee reaches a repl through Okta. -#}

with

source as (

    select *
    from {{ source('zendesk', 'zendesk_ticket_events') }}
    where {{ loaded_as_known_at('_loaded_at') }}
    {{ new_raw_rows() }}

),

{%- set fields = [
    'id', 'ticket_id', 'type', 'created_at', 'assignee.id', 'assignee.external_id',
    'assignee.email', 'status', 'priority',
] %}

extracted as (

    -- Every field in one parse of the payload (one parse per field was most of the model's time).
    select *, {{ json_text_fields('payload', fields) }} as payload_fields
    from source

),

parsed as (

    select
        _source_position as source_position,
        nullif(trim({{ list_item('payload_fields', 1) }}), '') as ticket_event_id,
        {{ list_item('payload_fields', 2) }} as ticket_id,
        {{ list_item('payload_fields', 3) }} as event_type,
        {{ list_item('payload_fields', 4) }} as created_at_text,
        {{ parse_iso_timestamp(list_item('payload_fields', 4)) }} as event_at_parsed,
        {{ list_item('payload_fields', 5) }} as assignee_zendesk_user_id,
        nullif(trim({{ list_item('payload_fields', 6) }}), '') as okta_user_id,
        {{ list_item('payload_fields', 7) }} as assignee_email_raw,
        {{ list_item('payload_fields', 8) }} as status,
        {{ list_item('payload_fields', 9) }} as priority,
        _loaded_at,
        _batch_id
    from extracted

),

ranged as (

    -- Outside the valid range an instant is a rejection (docs/contracts.md, "Timestamps").
    select
        *,
        case when {{ event_timestamp_in_range('event_at_parsed') }} then event_at_parsed end
            as event_at
    from parsed

),

final as (

    select
        source_position,
        ticket_event_id,
        ticket_id,
        event_type,
        event_at,
        assignee_zendesk_user_id,
        okta_user_id,
        {{ mask_pii('assignee_email_raw') }} as assignee_email,
        status,
        priority,
        case
            when ticket_event_id is null then 'missing id'
            when ticket_id is null then 'missing ticket_id'
            when event_type is null then 'missing type'
            when event_type not like 'ticket.%' then 'unknown event type: ' || event_type
            when created_at_text is null then 'missing created_at'
            when event_at_parsed is null then 'invalid created_at: ' || created_at_text
            when event_at is null then 'created_at out of range: ' || created_at_text
        end as rejection_reason,
        _loaded_at,
        _batch_id
    from ranged

)

select *, rejection_reason is null as is_valid from final
