{#-
    The fields of an object, read at compile time: the base list (salesforce_base_fields), united
    with every field of every describe raw holds (the latest describe's type wins) and with every
    key the snapshot records carry (varchar unless described). A field added in Salesforce thus
    reaches staging, history and the marts with no code change; a removed one keeps its column
    (history still has its values). Returns a list of {name, column, type}, sorted by name, without
    Id, IsDeleted and SystemModstamp (the models carry those as record_id/is_deleted/system_modstamp).
-#}
{% macro salesforce_fields(sobject) -%}
    {%- set types = salesforce_base_fields(sobject) -%}
    {%- if execute -%}
        {%- set describe = salesforce_relation('salesforce_describe') -%}
        {%- if describe is not none -%}
            {%- set rows = run_query(
                "select field_name, field_type from (" ~ salesforce_describe_fields_sql(describe)
                ~ ") as f where sobject = '" ~ sobject ~ "' order by described_at, schema_version"
            ) -%}
            {%- for row in rows -%}
                {%- do types.update({row[0]: row[1]}) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set raw = salesforce_relation('salesforce_' ~ salesforce_objects()[sobject]['snake']) -%}
        {%- if raw is not none -%}
            {%- for row in run_query(salesforce_record_keys_sql(raw)) -%}
                {%- if row[0] not in types -%}{%- do types.update({row[0]: 'string'}) -%}{%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- set fields = [] -%}
    {%- for name in types | sort if name not in ('Id', 'IsDeleted', 'SystemModstamp') and modules.re.match('^[A-Za-z][A-Za-z0-9_]*$', name) -%}
        {%- do fields.append({'name': name, 'column': salesforce_snake_case(name), 'type': salesforce_sql_type(types[name])}) -%}
    {%- endfor -%}
    {{ return(fields) }}
{%- endmacro %}
