-- Deprecated: the old daily-CSV table sf_lead (docs/salesforce_migration.md).
{{ salesforce_legacy('Lead') }}
