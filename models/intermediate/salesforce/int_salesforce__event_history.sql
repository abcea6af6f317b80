-- SCD2 history of Salesforce Event, merged field by field (macros/salesforce/salesforce_history.sql).
{{ salesforce_history('Event') }}
