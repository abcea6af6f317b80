-- SCD2 history of Salesforce Task, merged field by field (macros/salesforce/salesforce_history.sql).
{{ salesforce_history('Task') }}
