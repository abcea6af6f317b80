-- SCD2 history of Salesforce Contact, merged field by field (macros/salesforce/salesforce_history.sql).
{{ salesforce_history('Contact') }}
