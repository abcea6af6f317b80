{#-
    SCD2 history of one object (docs/salesforce.md, "Ordering: which version wins"): identical
    versions deduplicated on (record, content hash), then ordered by (system_modstamp,
    commit_number nulls first, source rank, content hash), and merged field by field: a field's
    value is its value at the latest version that sets it (a partial UPDATE keeps the other
    fields, nulledFields null them, a diff field is never applied as a value). GAP_* events carry
    no values (the extractor re-fetches those records) and make no version.
-#}
{% macro salesforce_history(sobject) -%}
{%- set obj = salesforce_objects()[sobject] -%}
{%- set fields = salesforce_fields(sobject) -%}
{%- set id_column = obj['snake'] ~ '_id' -%}
{%- set w = 'partition by record_id order by version_seq rows between unbounded preceding and current row' -%}
with

versions as (

    select * from {{ ref('stg_salesforce__' ~ obj['snake'] ~ '_versions') }}

),

deduplicated as (

    select
        *,
        row_number() over (partition by record_id, content_hash order by source_position) as duplicate_rank
    from versions
    where change_type not like 'GAP%' and system_modstamp is not null

),

ordered as (

    select
        *,
        row_number() over (
            partition by record_id
            -- Source rank before commit_number: a snapshot has no commit number, and "nulls first"
            -- would otherwise put it before the CDC event of the same instant, which it follows
            -- (docs/salesforce.md). Within one source rank the order is the documented one.
            order by system_modstamp, source_rank, commit_number nulls first, content_hash
        ) as version_seq,
        case
            when change_type in ('DELETE', 'HARD_DELETE') then 'true'
            when change_type in ('UNDELETE', 'CREATE') then 'false'
            when change_type = 'SNAPSHOT' then cast(record_is_deleted as varchar)
        end as deleted_state
    from deduplicated
    where duplicate_rank = 1

),

merged as (

    select
        record_id,
        version_seq,
        change_type,
        source,
        system_modstamp,
        commit_number,
        schema_version,
        content_hash,
        source_position,
        {%- for f in fields %}
        {%- set sets = "set_fields like '%," ~ f.name ~ ",%' and diff_fields not like '%," ~ f.name ~ ",%'" %}
        case
            when max(case when {{ sets }} then version_seq end) over ({{ w }})
                = max(case when {{ sets }} and {{ f.column }} is not null then version_seq end) over ({{ w }})
                then {{ last_value_ignore_nulls('case when ' ~ sets ~ ' then ' ~ f.column ~ ' end', w) }}
        end as {{ f.column }},
        {%- endfor %}
        coalesce({{ last_value_ignore_nulls('deleted_state', w) }}, 'false') = 'true' as is_deleted,
        {{ last_value_ignore_nulls("case when deleted_state = 'true' then system_modstamp end", w) }} as last_deleted_at,
        max(case when change_type = 'HARD_DELETE' then 1 else 0 end) over ({{ w }}) = 1 as is_hard_deleted
    from ordered

),

final as (

    select
        record_id as {{ id_column }},
        system_modstamp as valid_from,
        lead(system_modstamp) over (partition by record_id order by version_seq) as valid_to,
        lead(system_modstamp) over (partition by record_id order by version_seq) is null as is_current,
        version_seq,
        change_type,
        source,
        system_modstamp,
        commit_number,
        schema_version,
        {%- for f in fields %}
        {{ f.column }},
        {%- endfor %}
        is_deleted,
        case when is_deleted then last_deleted_at end as deleted_at,
        is_hard_deleted,
        content_hash,
        source_position
    from merged

)

select * from final
{%- endmacro %}
