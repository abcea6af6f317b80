-- Deprecated: the old daily-CSV table sf_opportunity (docs/salesforce_migration.md).
{{ salesforce_legacy('Opportunity') }}
