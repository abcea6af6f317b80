{#-
    Live opportunities (not deleted, not purged) whose account is missing: AccountId null, an
    Id raw has never seen as an Account, or an Account that is deleted or purged. Their revenue is
    still attributed (fct_opportunity_attribution needs no account); they are listed for the
    admins to fix (warn-level test).
-#}

with

opportunities as (

    select * from {{ ref('sfdc_opportunities') }}
    where not is_deleted and not is_hard_deleted

),

accounts as (

    select account_id, is_deleted, is_hard_deleted from {{ ref('sfdc_accounts') }}

),

final as (

    select
        opportunities.opportunity_id,
        opportunities.account_id,
        case
            when opportunities.account_id is null then 'no account'
            when accounts.account_id is null then 'account unknown'
            else 'account deleted'
        end as orphan_reason,
        opportunities.owner_id,
        opportunities.amount,
        opportunities.close_date,
        opportunities.stage_name,
        opportunities.system_modstamp
    from opportunities
    left join accounts on accounts.account_id = opportunities.account_id
    where opportunities.account_id is null
        or accounts.account_id is null
        or accounts.is_deleted
        or accounts.is_hard_deleted

)

select * from final
