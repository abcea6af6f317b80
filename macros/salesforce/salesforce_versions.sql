{#-
    Staging for one object (docs/salesforce.md, "Payloads"): one row per raw row × record id.
    CDC events apply to each of their recordIds; a snapshot (bulk, rest, refetch) sets every field
    it carries; get_deleted is a DELETE, reconcile a HARD_DELETE at extracted_at. `set_fields`,
    `nulled_fields` and `diff_fields` are comma-delimited API names with a leading and trailing
    comma (`,StageName,Amount,`), so membership is a plain `like '%,Name,%'`. Field values are
    typed from the describe; the compound Name of CDC is flattened into FirstName, LastName, ...
-#}
{% macro salesforce_versions(sobject) -%}
{%- set obj = salesforce_objects()[sobject] -%}
{%- set fields = salesforce_fields(sobject) -%}
{%- set name_parts = ['FirstName', 'LastName', 'MiddleName', 'Salutation', 'Suffix'] -%}
{%- set header = 'payload.ChangeEventHeader' -%}
with

source as (

    select *
    from {{ source('salesforce', 'salesforce_' ~ obj['snake']) }}
    where {{ loaded_as_known_at('_loaded_at') }}

),

{%- if obj['cdc'] %}

cdc as (

    select
        {{ json_array_element_text('record_ids') }} as record_id,
        {{ json_text('source.payload', header ~ '.changeType') }} as change_type,
        'cdc' as source,
        coalesce(
            {{ json_text('source.payload', 'payload.SystemModstamp') }},
            {{ timestamp_sort_key(epoch_ms_to_timestamp(json_text('source.payload', header ~ '.commitTimestamp'))) }}
        ) as system_modstamp_text,
        try_cast({{ json_text('source.payload', header ~ '.commitNumber') }} as bigint) as commit_number,
        {{ json_text('source.payload', 'schema') }} as schema_version,
        0 as source_rank,
        case
            when {{ json_text('source.payload', header ~ '.changeType') }} in ('CREATE', 'UNDELETE')
                then ',' || {{ json_object_keys_csv('source.payload', 'payload') }}
                    {%- if obj['compound_name'] %} || ',' || {{ json_object_keys_csv('source.payload', 'payload.Name') }}{% endif %}
                    || ',' || {{ json_array_csv('source.payload', header ~ '.changedFields') }}
                    || ',' || {{ json_array_csv('source.payload', header ~ '.nulledFields') }} || ','
            when {{ json_text('source.payload', header ~ '.changeType') }} = 'UPDATE'
                then ',' || {{ json_array_csv('source.payload', header ~ '.changedFields') }}
                    || ',' || {{ json_array_csv('source.payload', header ~ '.nulledFields') }} || ','
            else ','
        end as set_fields_raw,
        ',' || {{ json_array_csv('source.payload', header ~ '.nulledFields') }} || ',' as nulled_fields_raw,
        ',' || {{ json_array_csv('source.payload', header ~ '.diffFields') }} || ',' as diff_fields_raw,
        {%- for f in fields %}
        {%- if obj['compound_name'] and f.name in name_parts %}
        {{ json_text('source.payload', 'payload.Name.' ~ f.name) }} as {{ f.column }}__text,
        {%- elif obj['compound_name'] and f.name == 'Name' %}
        -- The compound Name arrives as an object of its parts, never as the full name.
        cast(null as varchar) as {{ f.column }}__text,
        {%- else %}
        {{ json_text('source.payload', 'payload.' ~ f.name) }} as {{ f.column }}__text,
        {%- endif %}
        {%- endfor %}
        cast(null as varchar) as is_deleted__text,
        source._loaded_at,
        source._source_position
    from source
    {{ json_array_cross_join('source.payload', header ~ '.recordIds', 'record_ids') }}
    where source._topic like 'salesforce.cdc.%'

),
{%- endif %}

records as (

    select
        {{ json_text('payload', 'record.Id') }} as record_id,
        case {{ json_text('payload', 'source') }}
            when 'get_deleted' then 'DELETE'
            when 'reconcile' then 'HARD_DELETE'
            else 'SNAPSHOT'
        end as change_type,
        {{ json_text('payload', 'source') }} as source,
        case {{ json_text('payload', 'source') }}
            when 'get_deleted' then {{ json_text('payload', 'record.deletedDate') }}
            when 'reconcile' then {{ json_text('payload', 'extracted_at') }}
            else {{ json_text('payload', 'record.SystemModstamp') }}
        end as system_modstamp_text,
        cast(null as bigint) as commit_number,
        {{ json_text('payload', 'schema_version') }} as schema_version,
        case {{ json_text('payload', 'source') }} when 'get_deleted' then 2 when 'reconcile' then 3 else 1 end
            as source_rank,
        case
            when {{ json_text('payload', 'source') }} in ('get_deleted', 'reconcile') then ','
            else ',' || {{ json_object_keys_csv('payload', 'record') }} || ','
        end as set_fields_raw,
        ',' as nulled_fields_raw,
        ',' as diff_fields_raw,
        {%- for f in fields %}
        {{ json_text('payload', 'record.' ~ f.name) }} as {{ f.column }}__text,
        {%- endfor %}
        {{ json_text('payload', 'record.IsDeleted') }} as is_deleted__text,
        _loaded_at,
        _source_position
    from source
    where _topic like 'salesforce.records.%'

),

unioned as (

    {% if obj['cdc'] %}select * from cdc union all {% endif %}select * from records

),

normalised as (

    -- changedFields name a compound field's part as `Name.FirstName`.
    select
        *,
        replace(set_fields_raw, ',Name.', ',') as set_fields,
        replace(nulled_fields_raw, ',Name.', ',') as nulled_fields,
        replace(diff_fields_raw, ',Name.', ',') as diff_fields
    from unioned
    where record_id is not null

),

final as (

    select
        record_id,
        change_type,
        source,
        {{ parse_iso_timestamp('system_modstamp_text') }} as system_modstamp,
        commit_number,
        schema_version,
        source_rank,
        set_fields,
        nulled_fields,
        diff_fields,
        {%- for f in fields %}
        {%- set typed = salesforce_cast(f.column ~ '__text', f.type) %}
        {%- if f.name in obj['pii'] %}
        {{ mask_pii(typed) }} as {{ f.column }},
        {%- else %}
        {{ typed }} as {{ f.column }},
        {%- endif %}
        {%- endfor %}
        try_cast(is_deleted__text as boolean) as record_is_deleted,
        -- Canonical content, independent of JSON key order and of where the version arrived.
        {{ dbt.hash(
            "change_type || '|' || coalesce(system_modstamp_text, '') || '|' || coalesce(cast(commit_number as varchar), '')"
            ~ " || '|' || set_fields || '|' || diff_fields || '|' || coalesce(is_deleted__text, '-')"
            ~ salesforce_hash_parts(fields)
        ) }} as content_hash,
        _loaded_at,
        _source_position as source_position
    from normalised

)

select * from final
{%- endmacro %}
