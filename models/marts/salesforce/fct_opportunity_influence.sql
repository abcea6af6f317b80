{#-
    Secondary (coverage) credit: for each opportunity of fct_opportunity_attribution whose owner
    resolved to a repl, one row per team the repl held a NON-primary membership in at the end of
    the close date (UTC) — the instant and the owner of the primary attribution, taken from its
    row, not recomputed. influence_amount is the opportunity's amount, in full, for every
    coverage team.

    Influence is reported next to attribution, never added to it: the primary team already counts
    the amount in fct_opportunity_attribution, and every coverage team counts it again here, so
    attribution + influence double counts by construction. Sum attribution for revenue; read
    influence per team as "revenue this team helped with".

    A team that is also the opportunity's primary team at that instant (a repl covering their own
    team) gets no influence row: the pair is the primary attribution
    (assert_opportunity_influence_is_never_the_primary_team).
-#}

with

attributed as (

    select * from {{ ref('fct_opportunity_attribution') }}
    where repl_id is not null

),

memberships as (

    select * from {{ ref('int_membership_windows') }}
    where role <> 'primary'

),

restated as (

    select * from {{ ref('int_teams_restated') }}

),

held_at_close as (

    select
        attributed.opportunity_id,
        memberships.team_id,
        memberships.role,
        attributed.close_date,
        attributed.attributed_at,
        attributed.owner_id_at_close,
        attributed.repl_id,
        attributed.team_id as primary_team_id,
        attributed.amount,
        attributed.stage_name,
        attributed.is_closed,
        attributed.is_won,
        memberships.valid_from as membership_valid_from,
        memberships.valid_to as membership_valid_to
    from attributed
    inner join memberships
        on memberships.repl_id = attributed.repl_id
        and memberships.valid_from < attributed.attributed_at
        and memberships.valid_to >= attributed.attributed_at
    where attributed.team_id is null or memberships.team_id <> attributed.team_id
    -- One row per (opportunity, team) whatever non-primary roles the slot has.
    qualify row_number() over (
        partition by attributed.opportunity_id, memberships.team_id
        order by memberships.role, memberships.valid_from desc
    ) = 1

),

final as (

    select
        held_at_close.opportunity_id,
        held_at_close.team_id,
        coalesce(restated.team_id_restated, held_at_close.team_id) as team_id_restated,
        held_at_close.role,
        false as is_primary,
        held_at_close.amount as influence_amount,
        held_at_close.primary_team_id,
        held_at_close.repl_id,
        held_at_close.owner_id_at_close,
        held_at_close.close_date,
        held_at_close.attributed_at,
        held_at_close.stage_name,
        held_at_close.is_closed,
        held_at_close.is_won,
        held_at_close.membership_valid_from,
        held_at_close.membership_valid_to
    from held_at_close
    left join restated on restated.team_id = held_at_close.team_id

)

select * from final
