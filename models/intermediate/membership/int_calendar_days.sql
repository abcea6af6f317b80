{#- One row per day: the spine daily facts are laid on. -#}

with

days as (

    {{ dbt.date_spine(
        datepart='day',
        start_date="cast('" ~ var('calendar_start_date') ~ "' as date)",
        end_date="cast('" ~ var('calendar_end_date') ~ "' as date)",
    ) }}

),

final as (

    select cast(date_day as date) as date_day from days

)

select * from final
