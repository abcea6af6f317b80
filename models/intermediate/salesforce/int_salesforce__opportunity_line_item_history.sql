-- SCD2 history of Salesforce OpportunityLineItem, merged field by field (macros/salesforce/salesforce_history.sql).
{{ salesforce_history('OpportunityLineItem') }}
