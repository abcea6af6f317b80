{#-
    For each open (a slot opened at a position), find the first close that ends it (semantics §3):
    the next removal of that slot, the next merge or split of its team, or — for primary slots —
    the next primary ADDED of the repl in another team. Each lookup is an interval lookup
    (prev_order_key <= open < order_key) against closers pre-sorted per partition, so it stays an
    equi-join plus a range predicate at any scale. `direct` opens (the ADDED events themselves)
    find their displacer by event id instead.
-#}
{% macro membership_close_opens(opens, direct, removals='removal_closers', team_closes='team_closers', adds='primary_add_displacers') -%}
    select
        opens.repl_id,
        opens.team_id,
        opens.role,
        opens.carry_depth,
        opens.open_event_id,
        opens.open_order_key,
        opens.open_at,
        opens.open_loaded_at,
        opens.open_known_at,
        removal.event_id as removal_event_id,
        removal.order_key as removal_order_key,
        removal.effective_at as removal_at,
        removal._loaded_at as removal_loaded_at,
        team_close.event_id as team_close_event_id,
        team_close.order_key as team_close_order_key,
        team_close.effective_at as team_close_at,
        team_close._loaded_at as team_close_loaded_at,
        team_close.event_type as team_close_event_type,
        team_close.merged_into_team_id,
        {%- if direct %}
        own_add.next_other_event_id as displacement_event_id,
        own_add.next_other_order_key as displacement_order_key,
        own_add.next_other_at as displacement_at,
        own_add.next_other_loaded_at as displacement_loaded_at
        {%- else %}
        case when next_add.team_id <> opens.team_id then next_add.event_id
             else next_add.next_other_event_id end as displacement_event_id,
        case when next_add.team_id <> opens.team_id then next_add.order_key
             else next_add.next_other_order_key end as displacement_order_key,
        case when next_add.team_id <> opens.team_id then next_add.effective_at
             else next_add.next_other_at end as displacement_at,
        case when next_add.team_id <> opens.team_id then next_add._loaded_at
             else next_add.next_other_loaded_at end as displacement_loaded_at
        {%- endif %}
    from {{ opens }} as opens
    left join {{ removals }} as removal
        on removal.repl_id = opens.repl_id
        and removal.team_id = opens.team_id
        and removal.role = opens.role
        and removal.order_key > opens.open_order_key
        and (removal.prev_order_key is null or removal.prev_order_key <= opens.open_order_key)
    left join {{ team_closes }} as team_close
        on team_close.team_id = opens.team_id
        and team_close.order_key > opens.open_order_key
        and (team_close.prev_order_key is null or team_close.prev_order_key <= opens.open_order_key)
    {%- if direct %}
    -- A direct primary open *is* a primary ADDED: the adds after it up to the end of its run are
    -- in its own team (no-ops), so its displacer is the first ADDED of the next run — an
    -- equi-join, linear in the number of events however many moves a repl makes.
    left join {{ adds }} as own_add
        on opens.role = 'primary'
        and own_add.event_id = opens.open_event_id
    {%- else %}
    left join {{ adds }} as next_add
        on opens.role = 'primary'
        and next_add.repl_id = opens.repl_id
        and next_add.order_key > opens.open_order_key
        and (next_add.prev_order_key is null or next_add.prev_order_key <= opens.open_order_key)
    {%- endif %}
{%- endmacro %}
