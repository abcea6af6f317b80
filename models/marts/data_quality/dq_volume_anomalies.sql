{#-
    Rows landed per raw source and UTC day (by `_loaded_at`, the warehouse's knowledge time),
    against the trailing window of days before it (var volume_anomaly_window_days, 14).

    The rule (one row per source and day, from the source's first load day to the last day any
    source loaded, days without rows counted as 0):
    - baseline: mean and sample stddev of the row counts of the window's days before this one
      (the day itself excluded); judged only with at least volume_anomaly_min_baseline_days (7)
      of them, so a new source is not flagged while it builds a history;
    - spread = greatest(stddev, sqrt(mean), 1): a perfectly regular source (stddev 0) is not
      flagged for one row more, and a small one keeps a Poisson-like tolerance;
    - 'zero': no rows on a day when rows landed on at least volume_anomaly_zero_min_active_days
      (10) of the window's days — the source normally has rows;
    - 'drop' / 'spike': the count is more than volume_anomaly_z (3) spreads below / above the mean.
    The quarantine (raw.ingest_quarantine) is judged on spikes only: fewer bad messages is good.
    The last day is usually still being loaded (a partial day reads as a drop): the watchdog
    checks the last complete UTC day (`python -m ingest.ops dq-check volume`). A backfill or a
    replay shows as a spike on its load day — expected, acknowledge it.
    Deterministic on static data: nothing here reads the clock.
-#}

{%- set sources = [
    ('admin_service', 'admin_membership_events'),
    ('okta', 'okta_system_log'),
    ('zendesk', 'zendesk_ticket_events'),
    ('salesforce', 'salesforce_account'),
    ('salesforce', 'salesforce_contact'),
    ('salesforce', 'salesforce_lead'),
    ('salesforce', 'salesforce_opportunity'),
    ('salesforce', 'salesforce_opportunity_line_item'),
    ('salesforce', 'salesforce_user'),
    ('salesforce', 'salesforce_task'),
    ('salesforce', 'salesforce_event'),
    ('ingest', 'ingest_quarantine'),
] %}
{%- set window_days = var('volume_anomaly_window_days', 14) | int %}
{%- set min_baseline_days = var('volume_anomaly_min_baseline_days', 7) | int %}
{%- set min_active_days = var('volume_anomaly_zero_min_active_days', 10) | int %}
{%- set z = var('volume_anomaly_z', 3) | float %}
{%- set frame -%}
    over (
        partition by source_name, table_name
        order by load_date
        rows between {{ window_days }} preceding and 1 preceding
    )
{%- endset %}

with

daily as (

    {%- for source_name, table_name in sources %}
    select
        '{{ source_name }}' as source_name,
        '{{ table_name }}' as table_name,
        cast(_loaded_at as date) as load_date,
        count(*) as row_count
    from {{ source(source_name, table_name) }}
    where {{ loaded_as_known_at('_loaded_at') }}
    group by cast(_loaded_at as date)
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

first_days as (

    select source_name, table_name, min(load_date) as first_date
    from daily
    group by source_name, table_name

),

last_day as (

    select max(load_date) as last_date from daily

),

spine as (

    select
        first_days.source_name,
        first_days.table_name,
        calendar.date_day as load_date
    from first_days
    cross join last_day
    inner join {{ ref('int_calendar_days') }} as calendar
        on calendar.date_day >= first_days.first_date
        and calendar.date_day <= last_day.last_date

),

counted as (

    select
        spine.source_name,
        spine.table_name,
        spine.load_date,
        cast(coalesce(daily.row_count, 0) as bigint) as row_count
    from spine
    left join daily
        on daily.source_name = spine.source_name
        and daily.table_name = spine.table_name
        and daily.load_date = spine.load_date

),

baseline as (

    select
        source_name,
        table_name,
        load_date,
        row_count,
        count(*) {{ frame }} as baseline_days,
        sum(case when row_count > 0 then 1 else 0 end) {{ frame }} as baseline_active_days,
        avg(cast(row_count as double)) {{ frame }} as baseline_mean,
        stddev_samp(cast(row_count as double)) {{ frame }} as baseline_stddev
    from counted

),

bounded as (

    select
        *,
        greatest(coalesce(baseline_stddev, 0), sqrt(coalesce(baseline_mean, 0)), 1.0) as spread
    from baseline

),

judged as (

    select
        *,
        case
            when coalesce(baseline_days, 0) < {{ min_baseline_days }} then null
            when table_name = 'ingest_quarantine'
                then case when row_count > baseline_mean + {{ z }} * spread then 'spike' end
            when row_count = 0 and baseline_active_days >= {{ min_active_days }} then 'zero'
            when row_count < baseline_mean - {{ z }} * spread then 'drop'
            when row_count > baseline_mean + {{ z }} * spread then 'spike'
        end as anomaly
    from bounded

),

final as (

    select
        source_name,
        table_name,
        load_date,
        row_count,
        cast(coalesce(baseline_days, 0) as integer) as baseline_days,
        cast(coalesce(baseline_active_days, 0) as integer) as baseline_active_days,
        cast(round(baseline_mean, 2) as double) as baseline_mean,
        cast(round(baseline_stddev, 2) as double) as baseline_stddev,
        case when baseline_mean is not null
            then cast(round(greatest(baseline_mean - {{ z }} * spread, 0), 2) as double)
        end as lower_bound,
        case when baseline_mean is not null
            then cast(round(baseline_mean + {{ z }} * spread, 2) as double)
        end as upper_bound,
        anomaly,
        anomaly is not null as is_anomaly
    from judged

)

select * from final
