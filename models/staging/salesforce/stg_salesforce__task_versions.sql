-- Every version of a Salesforce Task record (macros/salesforce/salesforce_versions.sql).
{{ salesforce_versions('Task') }}
