{#-
    Events backdated beyond the late-event window (var late_event_window_days): applied exactly
    like any other and restated from their effective instant, listed here for review.
-#}

select
    event_id,
    event_type,
    event_key,
    effective_at,
    emitted_at,
    {{ dbt.datediff('effective_at', 'emitted_at', 'day') }} as days_backdated,
    _loaded_at
from {{ ref('int_membership_events_deduplicated') }}
where is_beyond_late_window
