{#- Messages the ingestion layer could not decode, with source position, raw text and reason. -#}

select
    source_position,
    topic,
    kafka_partition,
    kafka_offset,
    reason,
    raw_text,
    _loaded_at
from {{ ref('stg_ingest__quarantine') }}
