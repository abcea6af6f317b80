-- SCD2 history of Salesforce Lead, merged field by field (macros/salesforce/salesforce_history.sql).
{{ salesforce_history('Lead') }}
