-- Every version of a Salesforce Lead record (macros/salesforce/salesforce_versions.sql).
{{ salesforce_versions('Lead') }}
