{#-
    A full build of the membership core in key buckets: instead of one statement over every
    event (whose sorts and hash tables outgrow memory at CloudDesk's size and spill more than the
    table itself), the model's statement runs once per bucket of its key, each over a share of
    the events that fits in memory. The buckets partition the key, and every row of the model
    depends only on events of its own key, so the union of the buckets is the unbucketed build.

    How many: one per `full_build_bucket_rows` staged membership events (var; 1 below it, so
    small builds are one statement as before). Incremental runs are never bucketed: their scope
    is already small.

    The model's SQL renders bucket 0 (`full_build_bucket`), which creates the table; the
    post-hook `insert_full_build_buckets` inserts buckets 1…n-1 with the same compiled SQL, the
    bucket number swapped. A failure in between must not leave a partial table behind a
    watermark that says it is complete: the pre-hook `begin_full_build_buckets` deletes the
    model's watermark first, and a model without one recomputes every key on its next run.
-#}

{% macro full_build_bucket_count() -%}
    {%- if not execute or incremental_watermark() is not none -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set staging = ref('stg_admin_service__membership_events') | string -%}
    {#- A unit test's inputs are CTEs of its own statement: never split. -#}
    {%- if staging.startswith('__dbt__cte__') -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set per_bucket = var('full_build_bucket_rows') | int -%}
    {%- set rows = run_query('select count(*) from ' ~ staging).columns[0].values()[0] | int -%}
    {{ return([1, [((rows + per_bucket - 1) // per_bucket), 1024] | min] | max) }}
{%- endmacro %}

{#- The marker the post-hook finds and rewrites: `= 0 /* full build bucket 0 of n */`. -#}
{% macro _full_build_bucket_marker(bucket, buckets) -%}
    = {{ bucket }} /* full build bucket {{ bucket }} of {{ buckets }} */
{%- endmacro %}

{#- The predicate "this row's key is in the bucket being built" (`true` when not bucketed). -#}
{% macro full_build_bucket(key, buckets) -%}
    {%- if buckets | int > 1 -%}
        {{ hash_bucket(key, buckets) }} {{ _full_build_bucket_marker(0, buckets | int) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: a bucketed full build first forgets the model's watermark (see above). -#}
{% macro begin_full_build_buckets() -%}
    {%- if execute and full_build_bucket_count() > 1 -%}
        delete from {{ incremental_watermarks_relation() }}
        where model_name = '{{ this.identifier }}'
    {%- endif -%}
{%- endmacro %}

{#- Post-hook (before set_incremental_watermark): buckets 1…n-1 of a bucketed full build. -#}
{% macro insert_full_build_buckets() -%}
    {%- if execute and sql -%}
        {%- set found = modules.re.search('= 0 /\\* full build bucket 0 of ([0-9]+) \\*/', sql) -%}
        {%- if found -%}
            {%- set buckets = found.group(1) | int -%}
            {%- set first = _full_build_bucket_marker(0, buckets) -%}
            {%- for bucket in range(1, buckets) -%}
                {%- do run_query(
                    'insert into ' ~ this ~ '\nselect * from (\n'
                    ~ sql.replace(first, _full_build_bucket_marker(bucket, buckets)) ~ '\n) as bucket'
                ) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
