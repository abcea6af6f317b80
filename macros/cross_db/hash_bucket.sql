{#-
    Which of `buckets` buckets a key falls in: an integer in [0, buckets), the same for equal
    keys within one engine (a null key has a bucket too). Used to split a full build by key, so
    it only has to agree with itself inside one run, never across engines.
-#}
{% macro hash_bucket(expression, buckets) -%}
    {{ return(adapter.dispatch('hash_bucket', 'revops')(expression, buckets)) }}
{%- endmacro %}

{% macro default__hash_bucket(expression, buckets) -%}
    {{ exceptions.raise_compiler_error("hash_bucket is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__hash_bucket(expression, buckets) -%}
    (hash({{ expression }}) % {{ buckets | int }})
{%- endmacro %}

{#- HASH is a signed 64-bit number; its absolute value fits NUMBER(38). -#}
{% macro snowflake__hash_bucket(expression, buckets) -%}
    mod(abs(hash({{ expression }})), {{ buckets | int }})
{%- endmacro %}
