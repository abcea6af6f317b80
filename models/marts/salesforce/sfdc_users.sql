-- Current state of Salesforce User (macros/salesforce/salesforce_current.sql).
{{ salesforce_current('User') }}
