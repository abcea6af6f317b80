"""A local Salesforce API emulator over HTTPS: the embedded default and the test double
(docs/salesforce_emulator.md)."""
