-- SCD2 history of Salesforce Account, merged field by field (macros/salesforce/salesforce_history.sql).
{{ salesforce_history('Account') }}
