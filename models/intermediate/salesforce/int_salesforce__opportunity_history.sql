-- SCD2 history of Salesforce Opportunity, merged field by field (macros/salesforce/salesforce_history.sql).
{{ salesforce_history('Opportunity') }}
