{{ config(severity='warn') }}
{#- Current merges forming a cycle (a → b, b → a) leave team_id_restated undefined. -#}
select team_id, team_id_restated, merge_hops
from {{ ref('int_teams_restated') }}
where is_merge_cycle
