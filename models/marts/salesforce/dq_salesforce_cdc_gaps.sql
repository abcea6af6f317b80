{#-
    Every CDC gap event raw holds (changeType GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE,
    GAP_OVERFLOW: Salesforce could not deliver the change itself) with whether the extractor
    handled it: a sync-log `gap` entry (the named records re-fetched over REST) or `overflow`
    entry (the object re-synced for a window) whose replay_position is the event's raw position.
    One row per raw event (a GAP event names no values; several recordIds stay one row).
    handled_at is the first handling entry's instant, refetched_count the most records one of them
    re-fetched (`refetched`: the ids queryAll returned, or a number), missing_count the ids it
    no longer returned (purged). minutes_unhandled is the age of
    an unhandled gap since it was loaded (null once handled): the warn test
    assert_salesforce_cdc_gaps_are_handled flags those older than var
    salesforce_cdc_gap_grace_minutes.
-#}

{%- set header = 'payload.ChangeEventHeader' %}

with

gap_events as (

    {%- for sobject, obj in salesforce_objects().items() if obj['cdc'] %}
    select
        '{{ sobject }}' as sobject,
        {{ json_text('payload', header ~ '.changeType') }} as change_type,
        {{ json_array_csv('payload', header ~ '.recordIds') }} as record_ids,
        {{ epoch_ms_to_timestamp(json_text('payload', header ~ '.commitTimestamp')) }} as commit_timestamp,
        try_cast({{ json_text('payload', header ~ '.commitNumber') }} as bigint) as commit_number,
        _source_position as source_position,
        _topic as topic,
        _partition as kafka_partition,
        _offset as kafka_offset,
        _loaded_at
    from {{ source('salesforce', 'salesforce_' ~ obj['snake']) }}
    where {{ loaded_as_known_at('_loaded_at') }}
        and _topic like 'salesforce.cdc.%'
        and {{ json_text('payload', header ~ '.changeType') }} like 'GAP%'
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

sync_log as (

    select * from {{ ref('stg_salesforce__sync_log') }}

),

handling_entries as (

    select
        {{ json_text('payload', 'replay_position') }} as replay_position,
        {{ json_text('payload', 'kind') }} as kind,
        -- `refetched` / `missing`: the lists of ids (counted through their CSV), or counts.
        coalesce(
            try_cast({{ json_text('payload', 'refetched') }} as bigint),
            case
                when {{ json_array_csv('payload', 'refetched') }} <> ''
                    then length({{ json_array_csv('payload', 'refetched') }})
                        - length(replace({{ json_array_csv('payload', 'refetched') }}, ',', '')) + 1
                when {{ json_text('payload', 'refetched') }} is not null then 0
            end
        ) as refetched_count,
        coalesce(
            try_cast({{ json_text('payload', 'missing') }} as bigint),
            case
                when {{ json_array_csv('payload', 'missing') }} <> ''
                    then length({{ json_array_csv('payload', 'missing') }})
                        - length(replace({{ json_array_csv('payload', 'missing') }}, ',', '')) + 1
                when {{ json_text('payload', 'missing') }} is not null then 0
            end
        ) as missing_count,
        coalesce({{ parse_iso_timestamp(json_text('payload', 'at')) }}, _loaded_at) as handled_at,
        _source_position as source_position
    from sync_log
    where kind in ('gap', 'overflow')

),

handled as (

    select
        replay_position,
        min(handled_at) as handled_at,
        max(refetched_count) as refetched_count,
        max(missing_count) as missing_count,
        min(kind) as handling_kind,
        count(*) as handling_entries
    from handling_entries
    where replay_position is not null
    group by replay_position

),

final as (

    select
        gap_events.sobject,
        gap_events.change_type,
        gap_events.record_ids,
        gap_events.commit_timestamp,
        gap_events.commit_number,
        gap_events.source_position,
        gap_events.topic,
        gap_events.kafka_partition,
        gap_events.kafka_offset,
        gap_events._loaded_at,
        handled.replay_position is not null as handled,
        handled.handling_kind,
        handled.refetched_count,
        handled.missing_count,
        handled.handled_at,
        coalesce(handled.handling_entries, 0) as handling_entries,
        case
            when handled.replay_position is null
                then {{ dbt.datediff('gap_events._loaded_at', utc_now(), 'second') }} / 60.0
        end as minutes_unhandled
    from gap_events
    left join handled on handled.replay_position = gap_events.source_position

)

select * from final
