-- Current state of Salesforce Lead (macros/salesforce/salesforce_current.sql).
{{ salesforce_current('Lead') }}
