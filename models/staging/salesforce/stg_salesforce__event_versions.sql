-- Every version of a Salesforce Event record (macros/salesforce/salesforce_versions.sql).
{{ salesforce_versions('Event') }}
