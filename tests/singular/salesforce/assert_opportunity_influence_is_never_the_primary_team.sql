-- No (opportunity, team) pair is both the primary attribution and an influence row: coverage
-- credit goes to the other teams only, so no team counts an opportunity twice.
select influence.opportunity_id, influence.team_id
from {{ ref('fct_opportunity_influence') }} as influence
inner join {{ ref('fct_opportunity_attribution') }} as attribution
    on attribution.opportunity_id = influence.opportunity_id
    and attribution.team_id = influence.team_id
