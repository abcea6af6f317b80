{#-
    The companion of fct_opportunity_attribution at line-item grain: one row per live line item
    (not deleted, not purged) of a live opportunity. The attribution (owner at the end of the close
    date → repl → primary team, restated team, unresolved_reason) is the parent opportunity's row
    of fct_opportunity_attribution, joined, never recomputed: a line item always lands in the team
    its opportunity lands in. A line item whose opportunity is deleted, purged or unknown to raw has
    no row. total_price is the line amount; the lines of an opportunity need not add up to its
    amount (Salesforce keeps Amount editable while an opportunity has no products).
-#}

with

line_items as (

    select
        opportunity_line_item_id,
        opportunity_id,
        product2_id,
        pricebook_entry_id,
        quantity,
        unit_price,
        list_price,
        total_price,
        service_date
    from {{ ref('sfdc_opportunity_line_items') }}
    where not is_deleted and not is_hard_deleted

),

opportunities as (

    select * from {{ ref('fct_opportunity_attribution') }}

),

final as (

    select
        line_items.opportunity_line_item_id,
        line_items.opportunity_id,
        opportunities.close_date,
        line_items.total_price,
        line_items.product2_id,
        line_items.pricebook_entry_id,
        line_items.quantity,
        line_items.unit_price,
        line_items.list_price,
        line_items.service_date,
        opportunities.stage_name,
        opportunities.is_closed,
        opportunities.is_won,
        opportunities.owner_id_at_close,
        opportunities.repl_id,
        opportunities.team_id,
        opportunities.team_id_restated,
        opportunities.unresolved_reason,
        opportunities.attributed_at,
        opportunities.owner_resolution
    from line_items
    inner join opportunities on opportunities.opportunity_id = line_items.opportunity_id

)

select * from final
