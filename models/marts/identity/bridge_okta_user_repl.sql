{{ config(materialized='view') }}

{#-
    Which repl each Okta user is, over valid time (semantics §7). The windows are built once in
    int_identity_windows, which ticket attribution reads too; this is their published contract.
-#}

with

identity_windows as (

    select * from {{ ref('int_identity_windows') }}

),

final as (

    select
        okta_user_id,
        repl_id,
        valid_from,
        valid_to,
        is_current,
        linked_by_event_id,
        recorded_at
    from identity_windows

)

select * from final
