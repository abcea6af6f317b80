-- Current state of Salesforce Account (macros/salesforce/salesforce_current.sql).
{{ salesforce_current('Account') }}
