{#- The synchronised objects (ingest/topics.py SALESFORCE_OBJECTS): API name → snake name, whether CDC covers it, whether its Name is compound. -#}
{% macro salesforce_objects() -%}
    {{ return({
        'Account': {'snake': 'account', 'cdc': true, 'compound_name': false, 'pii': []},
        'Contact': {'snake': 'contact', 'cdc': true, 'compound_name': true, 'pii': ['FirstName', 'LastName', 'Name', 'Email', 'Phone']},
        'Lead': {'snake': 'lead', 'cdc': true, 'compound_name': true, 'pii': ['FirstName', 'LastName', 'Name', 'Email', 'Phone']},
        'Opportunity': {'snake': 'opportunity', 'cdc': true, 'compound_name': false, 'pii': []},
        'OpportunityLineItem': {'snake': 'opportunity_line_item', 'cdc': true, 'compound_name': false, 'pii': []},
        'User': {'snake': 'user', 'cdc': true, 'compound_name': true, 'pii': []},
        'Task': {'snake': 'task', 'cdc': false, 'compound_name': false, 'pii': []},
        'Event': {'snake': 'event', 'cdc': false, 'compound_name': false, 'pii': []},
    }) }}
{%- endmacro %}
