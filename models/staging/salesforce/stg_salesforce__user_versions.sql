-- Every version of a Salesforce User record (macros/salesforce/salesforce_versions.sql).
{{ salesforce_versions('User') }}
