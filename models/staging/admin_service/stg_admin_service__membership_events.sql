{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
    )
}}

{#-
    One row per raw message, parsed, typed and validated. Invalid events stay here with a
    rejection_reason (surfaced by dq_rejected_events) instead of disappearing; event-level
    deduplication needs every copy of an event and happens in int_membership_events_deduplicated.
    The payload itself, unknown fields included, stays in raw (join on source_position).
-#}

with

source as (

    select *
    from {{ source('admin_service', 'admin_membership_events') }}
    where {{ loaded_as_known_at('_loaded_at') }}
    {{ new_raw_rows() }}

),

{%- set fields = [
    'event_id', 'event_type', 'repl_id', 'team_id', 'role', 'team_name', 'parent_team_id',
    'merged_into_team_id', 'okta_user_id', 'effective_at', 'emitted_at', 'actor',
] %}

extracted as (

    select
        *,
        {{ json_text_fields('payload', fields) }} as payload_fields,
        -- JSON null and an absent field are the same (no successors named).
        nullif({{ json_fragment('payload', 'successor_team_ids') }}, 'null') as successor_team_ids
    from source

),

parsed as (

    select
        _source_position as source_position,
        nullif(trim({{ list_item('payload_fields', 1) }}), '') as event_id,
        {{ list_item('payload_fields', 2) }} as event_type,
        {{ list_item('payload_fields', 3) }} as repl_id_raw,
        {{ list_item('payload_fields', 4) }} as team_id,
        {{ list_item('payload_fields', 5) }} as role_raw,
        {{ list_item('payload_fields', 6) }} as team_name,
        {{ list_item('payload_fields', 7) }} as parent_team_id,
        {{ list_item('payload_fields', 8) }} as merged_into_team_id,
        successor_team_ids,
        {{ list_item('payload_fields', 9) }} as okta_user_id,
        {{ list_item('payload_fields', 10) }} as effective_at_text,
        {{ list_item('payload_fields', 11) }} as emitted_at_text,
        {{ list_item('payload_fields', 12) }} as actor,
        {{ parse_iso_timestamp(list_item('payload_fields', 10)) }} as effective_at_parsed,
        {{ parse_iso_timestamp(list_item('payload_fields', 11)) }} as emitted_at_parsed,
        _loaded_at,
        _batch_id
    from extracted

),

ranged as (

    -- An instant outside the valid range is not one the warehouse can represent (at or after
    -- the open-window marker, before the calendar): it is a rejection, never history.
    select
        *,
        case
            when {{ event_timestamp_in_range('effective_at_parsed') }} then effective_at_parsed
        end as effective_at,
        case
            when {{ event_timestamp_in_range('emitted_at_parsed') }} then emitted_at_parsed
        end as emitted_at
    from parsed

),

typed as (

    select
        *,
        event_type in ('MEMBERSHIP_ADDED', 'MEMBERSHIP_REMOVED', 'REPL_IDENTITY_LINKED')
            as is_repl_event,
        event_type in (
            'TEAM_CREATED', 'TEAM_RENAMED', 'TEAM_PARENT_CHANGED', 'TEAM_MERGED', 'TEAM_SPLIT'
        ) as is_team_event
    from ranged

),

validated as (

    select
        *,
        case
            when event_id is null then 'missing event_id'
            when event_type is null then 'missing event_type'
            when not (is_repl_event or is_team_event)
                then 'unknown event_type: ' || event_type
            when effective_at_text is null then 'missing effective_at'
            when effective_at_parsed is null then 'invalid effective_at: ' || effective_at_text
            when effective_at is null then 'effective_at out of range: ' || effective_at_text
            when emitted_at_text is null then 'missing emitted_at'
            when emitted_at_parsed is null then 'invalid emitted_at: ' || emitted_at_text
            when emitted_at is null then 'emitted_at out of range: ' || emitted_at_text
            when is_repl_event and repl_id_raw is null then 'missing repl_id'
            when event_type <> 'REPL_IDENTITY_LINKED' and team_id is null then 'missing team_id'
            when event_type in ('MEMBERSHIP_ADDED', 'MEMBERSHIP_REMOVED')
                and role_raw is not null and role_raw not in ('primary', 'secondary')
                then 'invalid role: ' || role_raw
            when event_type in ('TEAM_CREATED', 'TEAM_RENAMED') and team_name is null
                then 'missing team_name'
            when event_type = 'TEAM_MERGED' and merged_into_team_id is null
                then 'missing merged_into_team_id'
            when event_type = 'TEAM_MERGED' and merged_into_team_id = team_id
                then 'team merged into itself'
            when event_type = 'REPL_IDENTITY_LINKED' and okta_user_id is null
                then 'missing okta_user_id'
        end as rejection_reason
    from typed

),

{%- set hashed_columns = [
    'event_type', 'repl_id', 'kept_team_id', 'role', 'effective_at_sort_key', 'kept_team_name',
    'kept_parent_team_id', 'kept_merged_into_team_id', 'kept_successor_team_ids',
    'kept_okta_user_id',
] %}

normalized as (

    select
        *,
        case when is_repl_event then repl_id_raw end as repl_id,
        case when event_type <> 'REPL_IDENTITY_LINKED' then team_id end as kept_team_id,
        case
            when event_type = 'MEMBERSHIP_ADDED' then coalesce(role_raw, 'primary')
            when event_type = 'MEMBERSHIP_REMOVED' then role_raw
        end as role,
        case when event_type in ('TEAM_CREATED', 'TEAM_RENAMED') then team_name end
            as kept_team_name,
        case
            when event_type in ('TEAM_CREATED', 'TEAM_PARENT_CHANGED') then parent_team_id
        end as kept_parent_team_id,
        case when event_type = 'TEAM_MERGED' then merged_into_team_id end
            as kept_merged_into_team_id,
        case when event_type = 'TEAM_SPLIT' then successor_team_ids end
            as kept_successor_team_ids,
        case when event_type = 'REPL_IDENTITY_LINKED' then okta_user_id end as kept_okta_user_id,
        {{ timestamp_sort_key('effective_at') }} as effective_at_sort_key
    from validated

),

final as (

    select
        source_position,
        event_id,
        event_type,
        case
            when is_repl_event then 'repl:' || repl_id
            when is_team_event then 'team:' || team_id
        end as event_key,
        repl_id,
        kept_team_id as team_id,
        role,
        kept_team_name as team_name,
        kept_parent_team_id as parent_team_id,
        kept_merged_into_team_id as merged_into_team_id,
        kept_successor_team_ids as successor_team_ids,
        kept_okta_user_id as okta_user_id,
        effective_at,
        emitted_at,
        {{ mask_pii('actor') }} as actor,
        -- Total order of application: (effective_at, emitted_at, event_id) as one sortable string
        -- (fixed-width timestamps first, so the event_id's own characters cannot shift it).
        effective_at_sort_key || '|' || {{ timestamp_sort_key('emitted_at') }} || '|' || event_id
            as order_key,
        -- What makes two events "the same change" (semantic duplicates): everything but
        -- event_id, emitted_at and actor. Each field is length-prefixed (null: '~'), so no value
        -- — an id containing '|' or ':', a name '~' — can make two changes hash alike.
        -- One variadic concat (every argument non-null) instead of a chain of `||`: each `||`
        -- builds an intermediate string, and this expression was a third of the model's time.
        md5(concat(
            {%- for column in hashed_columns %}
            case
                when {{ column }} is null then '~'
                else concat(cast(length({{ column }}) as varchar), ':', {{ column }})
            end
            {%- if not loop.last %}, '|',{% endif %}
            {%- endfor %}
        )) as content_hash,
        rejection_reason,
        rejection_reason is null as is_valid,
        _loaded_at,
        _batch_id
    from normalized

)

select * from final
