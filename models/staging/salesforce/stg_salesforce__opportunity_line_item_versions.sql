-- Every version of a Salesforce OpportunityLineItem record (macros/salesforce/salesforce_versions.sql).
{{ salesforce_versions('OpportunityLineItem') }}
