{#-
    Freshness per synchronised object: the latest `_loaded_at` of its record versions in raw (when
    the warehouse last learned something about it), the latest SystemModstamp among them (the
    newest change in Salesforce it holds), and the age of the former in minutes against the
    object's SLA (var salesforce_freshness_sla_minutes: the core revenue objects Opportunity and
    OpportunityLineItem 10 minutes, the rest, activities included, 60). An object raw holds
    nothing of is not fresh. The same SLAs are the warn_after of the dbt source freshness blocks
    (models/staging/salesforce/_salesforce__sources.yml), so `dbt source freshness` reports them
    too. minutes_since_checkpoint is informative: a quiet object whose incremental sync ran
    (a checkpoint with no records) is stale by this measure but not behind.
-#}

{%- set default_slas = {
    'Opportunity': 10, 'OpportunityLineItem': 10,
    'Account': 60, 'Contact': 60, 'Lead': 60, 'User': 60, 'Task': 60, 'Event': 60,
} %}
{%- set slas = var('salesforce_freshness_sla_minutes', default_slas) %}

with

loads as (

    {%- for sobject, obj in salesforce_objects().items() %}
    select
        '{{ sobject }}' as object,
        {{ slas.get(sobject, default_slas[sobject]) }} as sla_minutes,
        max(_loaded_at) as latest_loaded_at,
        max(system_modstamp) as latest_system_modstamp,
        count(*) as versions_loaded
    from {{ ref('stg_salesforce__' ~ obj['snake'] ~ '_versions') }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

sync_log as (

    select * from {{ ref('stg_salesforce__sync_log') }}

),

checkpoints as (

    select
        sobject as object,
        max(_loaded_at) as latest_checkpoint_loaded_at
    from sync_log
    where kind = 'checkpoint'
    group by 1

),

aged as (

    select
        loads.*,
        checkpoints.latest_checkpoint_loaded_at,
        {{ dbt.datediff('loads.latest_loaded_at', utc_now(), 'second') }} / 60.0 as age_minutes,
        {{ dbt.datediff('checkpoints.latest_checkpoint_loaded_at', utc_now(), 'second') }} / 60.0
            as minutes_since_checkpoint
    from loads
    left join checkpoints on checkpoints.object = loads.object

),

final as (

    select
        object,
        latest_loaded_at,
        latest_system_modstamp,
        versions_loaded,
        age_minutes,
        sla_minutes,
        coalesce(age_minutes <= sla_minutes, false) as is_fresh,
        latest_checkpoint_loaded_at,
        minutes_since_checkpoint
    from aged

)

select * from final
