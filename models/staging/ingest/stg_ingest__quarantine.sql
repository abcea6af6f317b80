{#- Undecodable messages, as the ingestion layer quarantined them (a view: raw is the record). -#}

with

source as (

    select * from {{ source('ingest', 'ingest_quarantine') }}
    where {{ loaded_as_known_at('_loaded_at') }}

),

final as (

    select
        _source_position as source_position,
        _topic as topic,
        _partition as kafka_partition,
        _offset as kafka_offset,
        reason,
        raw_text,
        _loaded_at,
        _batch_id
    from source

)

select * from final
