{#- Pick the earliest of the three candidate closes found by membership_close_opens. -#}
{% macro membership_first_close(candidates) -%}
    select
        *,
        case first_close_order_key
            when removal_order_key then 'removed'
            when team_close_order_key then
                case team_close_event_type when 'TEAM_MERGED' then 'merged' else 'split' end
            when displacement_order_key then 'displaced'
        end as close_reason
    from (
        select
            *,
            -- '~' sorts after every position key: "no close" = open until further notice.
            nullif(
                least(
                    coalesce(removal_order_key, '~'),
                    coalesce(team_close_order_key, '~'),
                    coalesce(displacement_order_key, '~')
                ),
                '~'
            ) as first_close_order_key
        from ({{ candidates }}) as candidates
    ) as ranked
{%- endmacro %}
