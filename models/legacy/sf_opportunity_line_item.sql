-- Deprecated: the old daily-CSV table sf_opportunity_line_item (docs/salesforce_migration.md).
{{ salesforce_legacy('OpportunityLineItem') }}
