"""The Snowflake setup script and the dbt project agree (issue 8).

docs/snowflake_setup.sql is run by an administrator once; dbt then re-creates the PII masking
policy on every run and connects with the profile's defaults. A name or a policy body changed in
one place and not the other would only fail on a real account, which CI does not have.
"""

from __future__ import annotations

import re

import yaml

from ingest.settings import PROJECT_DIR

SETUP = (PROJECT_DIR / "docs" / "snowflake_setup.sql").read_text()
MACRO = (PROJECT_DIR / "macros" / "cross_db" / "create_pii_masking_policy.sql").read_text()
PROJECT = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())


def squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip().lower()


def test_the_setup_masking_policy_is_the_one_dbt_keeps_in_sync() -> None:
    setup_body = re.search(
        r"pii_pseudonym as \(val varchar\) returns varchar ->(.*?);", SETUP, re.S
    )
    macro_body = re.search(r"\{%- set body -%\}(.*?)\{%- endset -%\}", MACRO, re.S)
    assert setup_body and macro_body
    roles = " or ".join(
        f"is_role_in_session('{role}')" for role in PROJECT["vars"]["snowflake_pii_reader_roles"]
    )
    rendered = re.sub(r"\{% for role in .*?\{% endfor %\}", roles, macro_body.group(1), flags=re.S)
    assert squash(setup_body.group(1)) == squash(rendered)


def test_the_profile_defaults_exist_in_the_setup_script() -> None:
    profile = (PROJECT_DIR / "profiles" / "profiles.yml").read_text()
    for name in re.findall(r"env_var\('SNOWFLAKE_(?:ROLE|WAREHOUSE)', '(\w+)'\)", profile):
        assert re.search(rf"create (role|warehouse) if not exists {name.lower()}\b", SETUP), name
    assert "create database if not exists revops" in SETUP
    for schema in ("raw", "staging", "intermediate", "marts", "governance"):
        assert f"create schema if not exists revops.{schema}" in SETUP, schema


def test_every_warehouse_suspends_after_a_minute() -> None:
    warehouses = re.findall(r"create warehouse if not exists (\w+)(.*?);", SETUP, re.S)
    assert len(warehouses) >= 3
    for name, options in warehouses:
        assert "auto_suspend = 60" in options, name
