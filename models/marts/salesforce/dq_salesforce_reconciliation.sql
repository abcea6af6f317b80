{#-
    Source vs warehouse, per object: the latest `source_aggregate` entry of the sync log (the
    extractor's SELECT COUNT() — and for Opportunity SUM(Amount) — against Salesforce, with its
    as_of) next to the current-state mart: live rows (not deleted, not purged) and, for
    Opportunity, SUM(amount). count_diff and amount_diff are warehouse minus source.
    is_reconciled: the counts are equal and, where the source reports a sum, the sums agree to
    the cent. Objects without an aggregate in the sync log have no row. The mart is compared as it
    is, not as of as_of: a change that lands after the aggregate shows as a difference until the
    next aggregate (warn-level test).
-#}

{%- set plurals = {
    'Account': 'sfdc_accounts', 'Contact': 'sfdc_contacts', 'Lead': 'sfdc_leads',
    'Opportunity': 'sfdc_opportunities', 'OpportunityLineItem': 'sfdc_opportunity_line_items',
    'User': 'sfdc_users', 'Task': 'sfdc_tasks', 'Event': 'sfdc_events',
} %}

with

sync_log as (

    select * from {{ ref('stg_salesforce__sync_log') }}

),

aggregates as (

    select
        sobject,
        try_cast({{ json_text('payload', 'count') }} as bigint) as source_count,
        try_cast({{ json_text('payload', 'sum_amount') }} as double) as source_sum_amount,
        {{ parse_iso_timestamp(json_text('payload', 'as_of')) }} as as_of,
        {{ parse_iso_timestamp(json_text('payload', 'at')) }} as entry_at,
        {{ json_text('payload', 'entry_id') }} as entry_id,
        _source_position as source_position,
        _loaded_at
    from sync_log
    where kind = 'source_aggregate'

),

latest_aggregates as (

    select * from aggregates
    where sobject is not null
    qualify row_number() over (
        partition by sobject
        order by as_of desc nulls last, entry_at desc nulls last, _loaded_at desc, source_position desc
    ) = 1

),

warehouse as (

    {%- for sobject, model in plurals.items() %}
    select
        '{{ sobject }}' as sobject,
        count(*) as warehouse_count,
        {%- if sobject == 'Opportunity' %}
        sum(amount) as warehouse_sum_amount
        {%- else %}
        cast(null as double) as warehouse_sum_amount
        {%- endif %}
    from {{ ref(model) }}
    where not is_deleted and not is_hard_deleted
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

compared as (

    select
        latest_aggregates.sobject as object,
        latest_aggregates.source_count,
        coalesce(warehouse.warehouse_count, 0) as warehouse_count,
        coalesce(warehouse.warehouse_count, 0) - latest_aggregates.source_count as count_diff,
        latest_aggregates.source_sum_amount,
        warehouse.warehouse_sum_amount,
        case
            when latest_aggregates.source_sum_amount is not null
                then coalesce(warehouse.warehouse_sum_amount, 0) - latest_aggregates.source_sum_amount
        end as amount_diff,
        latest_aggregates.as_of,
        latest_aggregates.entry_id,
        latest_aggregates.source_position
    from latest_aggregates
    left join warehouse on warehouse.sobject = latest_aggregates.sobject

),

final as (

    select
        object,
        source_count,
        warehouse_count,
        count_diff,
        source_sum_amount,
        warehouse_sum_amount,
        amount_diff,
        as_of,
        coalesce(
            count_diff = 0 and (amount_diff is null or abs(amount_diff) < 0.005),
            false
        ) as is_reconciled,
        entry_id,
        source_position
    from compared

)

select * from final
