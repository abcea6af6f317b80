-- SCD2 history of Salesforce User, merged field by field (macros/salesforce/salesforce_history.sql).
{{ salesforce_history('User') }}
