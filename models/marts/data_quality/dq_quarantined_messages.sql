{#-
    Messages the ingestion layer could not decode, with source position, raw text and reason.
    One row per distinct message (topic, raw text, reason), not per copy: a replayed or corrected
    file, or a retried Kafka message, quarantines the same bytes again. The row names the
    first-loaded copy and counts the copies.
-#}

with

quarantine as (

    select * from {{ ref('stg_ingest__quarantine') }}

),

copies as (

    select
        *,
        row_number() over (
            partition by topic, raw_text, reason order by _loaded_at, source_position
        ) as copy_number,
        count(*) over (partition by topic, raw_text, reason) as copies_loaded
    from quarantine

),

final as (

    select
        source_position,
        topic,
        kafka_partition,
        kafka_offset,
        reason,
        raw_text,
        copies_loaded,
        _loaded_at
    from copies
    where copy_number = 1

)

select * from final
