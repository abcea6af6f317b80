-- One row per extractor sync-log entry raw holds (checkpoints, gaps, overflows, aggregates, budget
-- stops; docs/salesforce.md): the entry's kind and object parsed once, the payload kept for the
-- kind-specific fields the DQ models read.
with

source as (

    select *
    from {{ source('salesforce', 'salesforce_sync_log') }}
    where {{ loaded_as_known_at('_loaded_at') }}

),

final as (

    select
        {{ json_text('payload', 'kind') }} as kind,
        {{ json_text('payload', 'sobject') }} as sobject,
        payload,
        _source_position,
        _loaded_at
    from source

)

select * from final
