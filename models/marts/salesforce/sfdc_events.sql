-- Current state of Salesforce Event (macros/salesforce/salesforce_current.sql).
{{ salesforce_current('Event') }}
