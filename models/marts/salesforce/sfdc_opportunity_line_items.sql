-- Current state of Salesforce OpportunityLineItem (macros/salesforce/salesforce_current.sql).
{{ salesforce_current('OpportunityLineItem') }}
