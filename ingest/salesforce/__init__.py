"""Salesforce → warehouse sync: a thin simple-salesforce client, pure record generators and the
shared stage → raw writer (docs/salesforce.md)."""
