-- Deprecated: the old daily-CSV table sf_event (docs/salesforce_migration.md).
{{ salesforce_legacy('Event') }}
