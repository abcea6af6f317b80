-- Deprecated: the old daily-CSV table sf_account (docs/salesforce_migration.md).
{{ salesforce_legacy('Account') }}
