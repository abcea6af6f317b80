{#-
    One row per live opportunity (not deleted, not purged), its revenue attributed to the team its
    owner was in at the END of the close date (UTC): open opportunities as of their expected close
    date. The owner is the one the opportunity history holds at that instant (not today's owner);
    OwnerId → the User version valid then → FederationIdentifier (the Okta user id) → the identity
    window valid then → the repl's primary membership window valid then. A missing link leaves
    team_id null with an unresolved_reason; the row stays. If the first version raw holds starts
    after the instant (history is known from the first sync on), that version is used and
    owner_resolution says so.
-#}

with

opportunities as (

    select
        opportunity_id,
        close_date,
        amount,
        stage_name,
        is_closed,
        is_won,
        cast(close_date as timestamp) + interval '1 day' as attributed_at
    from {{ ref('sfdc_opportunities') }}
    where not is_deleted and not is_hard_deleted

),

opportunity_versions as (

    select * from {{ ref('int_salesforce__opportunity_history') }}

),

owner_at_close as (

    -- The version valid at the instant; else (history starts later) the first known version.
    select
        opportunities.*,
        opportunity_versions.owner_id as owner_id_at_close,
        case
            when opportunity_versions.valid_from < opportunities.attributed_at then 'as_of_close'
            else 'first_known_version'
        end as owner_resolution
    from opportunities
    left join opportunity_versions
        on opportunity_versions.opportunity_id = opportunities.opportunity_id
    qualify row_number() over (
        partition by opportunities.opportunity_id
        order by
            case when opportunity_versions.valid_from < opportunities.attributed_at then 0 else 1 end,
            case when opportunity_versions.valid_from < opportunities.attributed_at
                then opportunity_versions.version_seq end desc,
            opportunity_versions.version_seq
    ) = 1

),

user_versions as (

    select * from {{ ref('int_salesforce__user_history') }}

),

owner_identity as (

    select
        owner_at_close.*,
        user_versions.user_id as owner_user_id,
        user_versions.federation_identifier as okta_user_id
    from owner_at_close
    left join user_versions
        on user_versions.user_id = owner_at_close.owner_id_at_close
    qualify row_number() over (
        partition by owner_at_close.opportunity_id
        order by
            case when user_versions.valid_from < owner_at_close.attributed_at then 0 else 1 end,
            case when user_versions.valid_from < owner_at_close.attributed_at
                then user_versions.version_seq end desc,
            user_versions.version_seq
    ) = 1

),

identities as (

    select * from {{ ref('int_identity_windows') }}

),

identified as (

    select
        owner_identity.*,
        identities.repl_id
    from owner_identity
    left join identities
        on identities.okta_user_id = owner_identity.okta_user_id
        and identities.valid_from < owner_identity.attributed_at
        and identities.valid_to >= owner_identity.attributed_at
    qualify row_number() over (
        partition by owner_identity.opportunity_id order by identities.valid_from desc
    ) = 1

),

primary_memberships as (

    select * from {{ ref('int_membership_windows') }}
    where role = 'primary'

),

attributed as (

    select
        identified.*,
        primary_memberships.team_id
    from identified
    left join primary_memberships
        on primary_memberships.repl_id = identified.repl_id
        and primary_memberships.valid_from < identified.attributed_at
        and primary_memberships.valid_to >= identified.attributed_at
    qualify row_number() over (
        partition by identified.opportunity_id
        order by primary_memberships.valid_from desc, primary_memberships.team_id
    ) = 1

),

restated as (

    select * from {{ ref('int_teams_restated') }}

),

final as (

    select
        attributed.opportunity_id,
        attributed.close_date,
        attributed.amount,
        attributed.stage_name,
        attributed.is_closed,
        attributed.is_won,
        attributed.owner_id_at_close,
        attributed.repl_id,
        attributed.team_id,
        case
            when attributed.team_id is not null
                then coalesce(restated.team_id_restated, attributed.team_id)
        end as team_id_restated,
        case
            when attributed.close_date is null then 'no close date'
            when attributed.owner_id_at_close is null then 'owner unknown'
            when attributed.owner_user_id is null then 'owner user unknown'
            when attributed.okta_user_id is null then 'owner has no federation identifier'
            when attributed.repl_id is null then 'no repl for okta user at close'
            when attributed.team_id is null then 'repl had no primary team at close'
        end as unresolved_reason,
        attributed.attributed_at,
        attributed.owner_resolution,
        attributed.okta_user_id
    from attributed
    left join restated on restated.team_id = attributed.team_id

)

select * from final
