-- Every version of a Salesforce Account record (macros/salesforce/salesforce_versions.sql).
{{ salesforce_versions('Account') }}
