-- Current state of Salesforce Opportunity (macros/salesforce/salesforce_current.sql).
{{ salesforce_current('Opportunity') }}
