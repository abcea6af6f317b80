-- Every version of a Salesforce Opportunity record (macros/salesforce/salesforce_versions.sql).
{{ salesforce_versions('Opportunity') }}
