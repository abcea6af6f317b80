-- Deprecated: the old daily-CSV table sf_task (docs/salesforce_migration.md).
{{ salesforce_legacy('Task') }}
