{#-
    Okta users whose ticket attribution may change because events were loaded after `since`, with
    the instant from which it may change: users re-linked to a repl (identity), and every user ever
    linked to a repl whose membership history was touched.
-#}
{% macro ticket_touched_okta_users(since) -%}
    select touched.okta_user_id, min(touched.affected_from) as affected_from
    from (
        select copies.okta_user_id, copies.effective_at as affected_from
        from {{ ref('stg_admin_service__membership_events') }} as copies
        where copies.is_valid
          and copies.event_type = 'REPL_IDENTITY_LINKED'
          and copies.event_id in ({{ membership_fresh_event_ids(since) }})

        union all

        select identities.okta_user_id, touched_repls.affected_from
        from ({{ membership_touched_repls(since) }}) as touched_repls
        inner join {{ ref('int_identity_windows') }} as identities
            on identities.repl_id = touched_repls.repl_id
    ) as touched
    group by touched.okta_user_id
{%- endmacro %}
