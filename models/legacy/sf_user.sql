-- Deprecated: the old daily-CSV table sf_user (docs/salesforce_migration.md).
{{ salesforce_legacy('User') }}
