-- Current state of Salesforce Contact (macros/salesforce/salesforce_current.sql).
{{ salesforce_current('Contact') }}
