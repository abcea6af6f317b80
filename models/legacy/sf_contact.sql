-- Deprecated: the old daily-CSV table sf_contact (docs/salesforce_migration.md).
{{ salesforce_legacy('Contact') }}
