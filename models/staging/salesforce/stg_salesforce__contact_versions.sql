-- Every version of a Salesforce Contact record (macros/salesforce/salesforce_versions.sql).
{{ salesforce_versions('Contact') }}
