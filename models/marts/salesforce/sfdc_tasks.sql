-- Current state of Salesforce Task (macros/salesforce/salesforce_current.sql).
{{ salesforce_current('Task') }}
