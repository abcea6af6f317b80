{#-
    Every decodable event a source sent that the contracts reject, with the reason. Expected dirt:
    reported here and by warn-level tests, never silently dropped.

    One row per distinct rejected event, not per copy: a replayed or corrected file (a new
    checksum, so new raw positions) or a retried Kafka message loads the same payload again, and
    that is still one rejection. Copies are the same event when everything staging parsed from
    the payload is the same (compared as values, nulls equal); the row names the first-loaded copy
    and counts the copies.
-#}

{%- set sources = [
    {
        'system': 'admin_service',
        'model': 'stg_admin_service__membership_events',
        'event_id': 'event_id',
        'parsed': [
            'event_id', 'event_type', 'repl_id', 'team_id', 'role', 'team_name', 'parent_team_id',
            'merged_into_team_id', 'successor_team_ids', 'okta_user_id', 'effective_at',
            'emitted_at', 'actor', 'rejection_reason',
        ],
    },
    {
        'system': 'okta',
        'model': 'stg_okta__system_log_events',
        'event_id': 'okta_event_id',
        'parsed': [
            'okta_event_id', 'event_type', 'okta_user_id', 'okta_login', 'display_name',
            'outcome_result', 'published_at', 'rejection_reason',
        ],
    },
    {
        'system': 'zendesk',
        'model': 'stg_zendesk__ticket_events',
        'event_id': 'ticket_event_id',
        'parsed': [
            'ticket_event_id', 'ticket_id', 'event_type', 'event_at', 'assignee_zendesk_user_id',
            'okta_user_id', 'assignee_email', 'status', 'priority', 'rejection_reason',
        ],
    },
] %}

with

{% for source in sources %}
{{ source.system }}_copies as (

    select
        '{{ source.system }}' as source_system,
        source_position,
        {{ source.event_id }} as event_id,
        event_type,
        rejection_reason,
        _loaded_at,
        {%- set same_event = 'partition by ' ~ source.parsed | join(', ') %}
        row_number() over ({{ same_event }} order by _loaded_at, source_position) as copy_number,
        count(*) over ({{ same_event }}) as copies_loaded
    from {{ ref(source.model) }}
    where not is_valid

),

{% endfor %}
rejected as (

    {% for source in sources %}
    select * from {{ source.system }}_copies
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        source_system,
        source_position,
        event_id,
        event_type,
        rejection_reason,
        copies_loaded,
        _loaded_at
    from rejected
    where copy_number = 1

)

select * from final
