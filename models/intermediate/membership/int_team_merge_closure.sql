{#-
    Every team paired with every team that was merged into it, directly or through a chain
    (a → b → c gives (c, b), (c, a), (b, a)), plus itself. Used to find whose history a merge or
    split touches. Time is ignored on purpose: a superset only costs a little recomputation.

    Merge history may contain cycles (a → b, later b → a: legal), so the closure is not walked
    path by path (the number of paths explodes on cycles) but squared: each step joins the
    relation with itself and keeps distinct pairs, doubling the chain length it covers, so
    `steps` steps cover chains of 2^steps merges in at most teams² rows. A membership follows at
    most var membership_max_merge_depth merges (int_membership_intervals), so chains of that
    length are all a merge can touch: `steps` is the smallest with 2^steps >= the var.
    assert_team_merge_closure_is_closed fails if history ever has a longer chain.
-#}

{%- set max_depth = var('membership_max_merge_depth') | int %}
{%- set covered = namespace(steps=0) %}
{%- for _ in range(max_depth) if 2 ** covered.steps < max_depth %}
    {%- set covered.steps = covered.steps + 1 %}
{%- endfor %}
{%- set steps = covered.steps %}

with

events as (

    select * from {{ ref('int_membership_events_deduplicated') }}

),

teams as (

    select team_id from events where team_id is not null
    union
    select merged_into_team_id from events where merged_into_team_id is not null

),

reach_0 as (

    -- Chains of at most one merge: each team, and each team merged straight into it.
    select team_id, team_id as predecessor_team_id from teams
    union
    select merged_into_team_id, team_id
    from events
    where event_type = 'TEAM_MERGED'

),

{% for step in range(1, steps + 1) %}
reach_{{ step }} as (

    -- Chains of at most 2^{{ step }} merges.
    select distinct nearer.team_id, further.predecessor_team_id
    from reach_{{ step - 1 }} as nearer
    inner join reach_{{ step - 1 }} as further
        on further.team_id = nearer.predecessor_team_id

),

{% endfor %}
final as (

    select team_id, predecessor_team_id from reach_{{ steps }}

)

select * from final
