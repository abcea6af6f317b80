-- revops on Snowflake: one-time account setup (README, "Running on Snowflake").
-- Run once as an administrator (SECURITYADMIN for roles and grants, SYSADMIN for objects), e.g.
--   snowsql -f docs/snowflake_setup.sql
-- Idempotent: every object is created `if not exists`. Names match profiles/profiles.yml and
-- dbt_project.yml defaults; change both together. No secret lives here: users get their
-- RSA public key with `alter user … set rsa_public_key = '…'` out of band.

------------------------------------------------------------------------------------------------
-- Roles. Access rolls up: analyst < auditor < engineer; the service roles own what they write.
------------------------------------------------------------------------------------------------
use role securityadmin;

create role if not exists revops_loader comment = 'ingest: PUT/COPY into raw, load history';
create role if not exists revops_transformer comment = 'dbt: reads raw, owns staging/intermediate/marts';
create role if not exists revops_analyst comment = 'marts (PII masked, rows scoped by region)';
create role if not exists revops_auditor comment = 'marts + intermediate lineage (PII masked)';
create role if not exists revops_engineer comment = 'everything, raw included (PII masked)';
create role if not exists revops_pii_reader comment = 'sees PII in clear; grant sparingly';

grant role revops_analyst to role revops_auditor;
grant role revops_auditor to role revops_engineer;
grant role revops_loader to role sysadmin;
grant role revops_transformer to role sysadmin;
grant role revops_engineer to role sysadmin;
grant role revops_pii_reader to role sysadmin;

-- Service users (key-pair auth only: set rsa_public_key after creating them).
create user if not exists revops_ingest default_role = revops_loader
    default_warehouse = revops_load_wh type = service;
create user if not exists revops_dbt default_role = revops_transformer
    default_warehouse = revops_transform_wh type = service;
grant role revops_loader to user revops_ingest;
grant role revops_transformer to user revops_dbt;

------------------------------------------------------------------------------------------------
-- Warehouses: one per workload, all suspended after 60 s idle (billing is per second after
-- the first minute of each resume).
------------------------------------------------------------------------------------------------
use role sysadmin;

create warehouse if not exists revops_load_wh
    warehouse_size = xsmall auto_suspend = 60 auto_resume = true initially_suspended = true
    comment = 'COPY INTO raw (micro-batches)';
create warehouse if not exists revops_transform_wh
    warehouse_size = xsmall auto_suspend = 60 auto_resume = true initially_suspended = true
    comment = 'incremental dbt builds';
-- Full rebuilds, backfills and audit rebuilds (`revops build --full-refresh | --as-known-at`):
-- REVOPS_SNOWFLAKE_WAREHOUSE_HEAVY=revops_rebuild_wh moves the membership and attribution
-- models here (dbt_project.yml, +snowflake_warehouse).
create warehouse if not exists revops_rebuild_wh
    warehouse_size = large auto_suspend = 60 auto_resume = true initially_suspended = true
    comment = 'full rebuilds, backfills, audit rebuilds';
create warehouse if not exists revops_analyst_wh
    warehouse_size = xsmall auto_suspend = 60 auto_resume = true initially_suspended = true
    min_cluster_count = 1 max_cluster_count = 2 scaling_policy = economy
    comment = 'analysts and auditors';

-- A guard rail: the seed's budget is in credits per month (README, cost notes).
use role accountadmin;
create resource monitor if not exists revops_monthly
    with credit_quota = 300 frequency = monthly start_timestamp = immediately
    triggers on 80 percent do notify on 100 percent do suspend;
alter warehouse revops_load_wh set resource_monitor = revops_monthly;
alter warehouse revops_transform_wh set resource_monitor = revops_monthly;
alter warehouse revops_rebuild_wh set resource_monitor = revops_monthly;
alter warehouse revops_analyst_wh set resource_monitor = revops_monthly;
use role sysadmin;

grant usage on warehouse revops_load_wh to role revops_loader;
grant usage on warehouse revops_transform_wh to role revops_transformer;
grant usage on warehouse revops_rebuild_wh to role revops_transformer;
grant usage on warehouse revops_analyst_wh to role revops_analyst;

------------------------------------------------------------------------------------------------
-- Database and schemas (dbt writes staging / intermediate / marts; audit rebuilds create
-- <schema>_as_of_<ts> next to them, hence CREATE SCHEMA for the transformer).
------------------------------------------------------------------------------------------------
create database if not exists revops comment = 'revops: raw (append-only) → staging → intermediate → marts';
create schema if not exists revops.raw with managed access;
create schema if not exists revops.staging with managed access;
create schema if not exists revops.intermediate with managed access;
create schema if not exists revops.marts with managed access;
create schema if not exists revops.governance with managed access comment = 'policies and their mapping tables';
create schema if not exists revops.ops with managed access comment = 'run summaries, restatement reports (Airflow)';

grant usage on database revops to role revops_loader;
grant usage on database revops to role revops_transformer;
grant usage on database revops to role revops_analyst;
grant create schema on database revops to role revops_transformer;

-- raw: the loader appends, dbt reads, engineers read; nobody else (PII in clear in payloads).
grant usage, create table, create stage, create file format on schema revops.raw to role revops_loader;
grant select, insert on future tables in schema revops.raw to role revops_loader;
grant usage on schema revops.raw to role revops_transformer;
grant select on future tables in schema revops.raw to role revops_transformer;
grant usage on schema revops.raw to role revops_engineer;
grant select on future tables in schema revops.raw to role revops_engineer;

-- dbt owns the modelled schemas.
grant usage, create table, create view on schema revops.staging to role revops_transformer;
grant usage, create table, create view on schema revops.intermediate to role revops_transformer;
grant usage, create table, create view on schema revops.marts to role revops_transformer;

-- ops: the Airflow tasks (as the dbt user) write run summaries and restatement reports;
-- analysts read the restated attributions.
grant usage, create table on schema revops.ops to role revops_transformer;
grant usage on schema revops.ops to role revops_analyst;
grant select on future tables in schema revops.ops to role revops_analyst;

-- Readers, through future grants: dbt's `create or replace` makes new objects, which get them.
grant usage on schema revops.marts to role revops_analyst;
grant select on future tables in schema revops.marts to role revops_analyst;
grant select on future views in schema revops.marts to role revops_analyst;
grant usage on schema revops.intermediate to role revops_auditor;
grant select on future tables in schema revops.intermediate to role revops_auditor;
grant select on future views in schema revops.intermediate to role revops_auditor;
grant usage on schema revops.staging to role revops_engineer;
grant select on future tables in schema revops.staging to role revops_engineer;
grant select on future views in schema revops.staging to role revops_engineer;

------------------------------------------------------------------------------------------------
-- Stages: one named internal stage per source (the same ndjson.gz files the DuckDB path
-- writes: <source>/<yyyy>/<mm>/<dd>/<batch_id>.ndjson.gz), and the file format COPY reads.
------------------------------------------------------------------------------------------------
use role revops_loader;
use schema revops.raw;

create file format if not exists revops.raw.ndjson_gz
    type = json compression = gzip strip_outer_array = false
    comment = 'one JSON envelope per line: position, topic, partition, offset, key, timestamp, payload';
create stage if not exists revops.raw.admin_service_stage file_format = revops.raw.ndjson_gz
    comment = 'admin.membership.v1';
create stage if not exists revops.raw.okta_stage file_format = revops.raw.ndjson_gz
    comment = 'okta.system_log.v1';
create stage if not exists revops.raw.zendesk_stage file_format = revops.raw.ndjson_gz
    comment = 'zendesk.ticket_events.v1';
create stage if not exists revops.raw.quarantine_stage file_format = revops.raw.ndjson_gz
    comment = 'undecodable messages with their reason';

-- Production alternative: the extractors write the stage to S3 and Snowflake reads it there.
-- use role accountadmin;
-- create storage integration if not exists revops_s3
--     type = external_stage storage_provider = 's3' enabled = true
--     storage_aws_role_arn = 'arn:aws:iam::<account>:role/revops-snowflake'
--     storage_allowed_locations = ('s3://<bucket>/revops/stage/');
-- grant usage on integration revops_s3 to role revops_loader;
-- use role revops_loader;
-- create stage if not exists revops.raw.zendesk_s3_stage
--     url = 's3://<bucket>/revops/stage/zendesk/' storage_integration = revops_s3
--     file_format = revops.raw.ndjson_gz;
--
-- Near-real-time option: Snowpipe auto-ingest from the S3 event notifications (SQS ARN from
-- `show pipes`). Same envelope columns as the batch COPY; idempotent through the pipe's load
-- history (14 days). raw.load_history is then filled from copy_history() by the loader.
-- create pipe if not exists revops.raw.zendesk_pipe auto_ingest = true as
--     copy into revops.raw.zendesk_ticket_events
--         (_source_position, _topic, _partition, _offset, _key, _kafka_timestamp,
--          _loaded_at, _batch_id, _stage_file, payload)
--     from (
--         select $1:source_position::varchar, $1:topic::varchar, $1:partition::integer,
--                $1:offset::bigint, $1:key::varchar,
--                to_timestamp_ntz($1:kafka_timestamp_ms::bigint, 3),
--                sysdate(), 'snowpipe:' || metadata$file_last_modified, metadata$filename,
--                $1:payload
--         from @revops.raw.zendesk_s3_stage
--     );

------------------------------------------------------------------------------------------------
-- Policies. dbt creates the PII masking policy itself (on-run-start, create_pii_masking_policy)
-- and attaches it to every `meta: {pii: true}` column (post-hook, apply_access_policies); the
-- transformer owns it. The definition below is the same, for accounts that set up first.
------------------------------------------------------------------------------------------------
use role securityadmin;
grant create masking policy, create row access policy, create table, usage
    on schema revops.governance to role revops_transformer;
use role accountadmin;
grant apply masking policy on account to role revops_transformer;
grant apply row access policy on account to role revops_transformer;

use role revops_transformer;
create masking policy if not exists revops.governance.pii_pseudonym as (val varchar) returns varchar ->
    case
        when val is null then null
        when is_role_in_session('REVOPS_TRANSFORMER') or is_role_in_session('REVOPS_PII_READER') then val
        else 'pii_' || substr(md5(lower(val)), 1, 16)
    end;

-- Row access, an example: analysts see the teams of their regions. RevOps maintains the two
-- mapping tables; auditors, engineers and dbt see every row. Enable with the dbt var
-- snowflake_row_access_policy: revops.governance.team_region_scope (attached to the models whose
-- config meta names `row_access_on`, e.g. fct_team_daily_headcount on team_id).
create table if not exists revops.governance.team_regions (team_id varchar not null, region varchar not null);
create table if not exists revops.governance.analyst_regions (role_name varchar not null, region varchar not null);
create row access policy if not exists revops.governance.team_region_scope as (team_id varchar) returns boolean ->
    is_role_in_session('REVOPS_AUDITOR')
    or is_role_in_session('REVOPS_TRANSFORMER')
    or exists (
        select 1
        from revops.governance.team_regions as team_regions
        inner join revops.governance.analyst_regions as analyst_regions
            on analyst_regions.region = team_regions.region
        where team_regions.team_id = team_id
          and is_role_in_session(analyst_regions.role_name)
    );
-- e.g. insert into revops.governance.analyst_regions values ('REVOPS_ANALYST_EMEA', 'EMEA');
