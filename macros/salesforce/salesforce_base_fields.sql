{#-
    The fields each object has before raw holds a describe (a fresh warehouse, a compile without
    data): name → describe type. The describe and the records add to this, never remove from it,
    so the columns downstream models depend on always exist.
-#}
{% macro salesforce_base_fields(sobject) -%}
    {%- set audit = {'CreatedDate': 'datetime', 'LastModifiedDate': 'datetime', 'SystemModstamp': 'datetime', 'IsDeleted': 'boolean', 'Id': 'id'} -%}
    {%- set fields = {
        'Account': {'Name': 'string', 'Type': 'picklist', 'Industry': 'picklist', 'OwnerId': 'reference', 'ParentId': 'reference', 'BillingCountry': 'string', 'AnnualRevenue': 'currency', 'NumberOfEmployees': 'int', 'Website': 'url'},
        'Contact': {'AccountId': 'reference', 'OwnerId': 'reference', 'FirstName': 'string', 'LastName': 'string', 'Name': 'string', 'Email': 'email', 'Phone': 'phone', 'Title': 'string', 'LeadSource': 'picklist'},
        'Lead': {'OwnerId': 'reference', 'FirstName': 'string', 'LastName': 'string', 'Name': 'string', 'Email': 'email', 'Phone': 'phone', 'Company': 'string', 'Status': 'picklist', 'LeadSource': 'picklist', 'IsConverted': 'boolean', 'ConvertedAccountId': 'reference', 'ConvertedContactId': 'reference', 'ConvertedOpportunityId': 'reference', 'ConvertedDate': 'date'},
        'Opportunity': {'AccountId': 'reference', 'OwnerId': 'reference', 'Name': 'string', 'StageName': 'picklist', 'Amount': 'currency', 'CloseDate': 'date', 'IsClosed': 'boolean', 'IsWon': 'boolean', 'Probability': 'percent', 'Type': 'picklist', 'LeadSource': 'picklist', 'ForecastCategoryName': 'picklist'},
        'OpportunityLineItem': {'OpportunityId': 'reference', 'Product2Id': 'reference', 'PricebookEntryId': 'reference', 'Quantity': 'double', 'UnitPrice': 'currency', 'ListPrice': 'currency', 'TotalPrice': 'currency', 'ServiceDate': 'date', 'Description': 'textarea'},
        'User': {'Username': 'string', 'Email': 'email', 'FirstName': 'string', 'LastName': 'string', 'Name': 'string', 'FederationIdentifier': 'string', 'IsActive': 'boolean', 'UserRoleId': 'reference', 'ProfileId': 'reference', 'ManagerId': 'reference'},
        'Task': {'WhoId': 'reference', 'WhatId': 'reference', 'OwnerId': 'reference', 'Subject': 'string', 'Status': 'picklist', 'Priority': 'picklist', 'ActivityDate': 'date', 'IsClosed': 'boolean', 'Type': 'picklist', 'TaskSubtype': 'picklist'},
        'Event': {'WhoId': 'reference', 'WhatId': 'reference', 'OwnerId': 'reference', 'Subject': 'string', 'StartDateTime': 'datetime', 'EndDateTime': 'datetime', 'ActivityDate': 'date', 'DurationInMinutes': 'int', 'Type': 'picklist', 'EventSubtype': 'picklist'},
    }[sobject] -%}
    {%- set result = {} -%}
    {%- do result.update(audit) -%}
    {%- do result.update(fields) -%}
    {%- if sobject == 'User' -%}{%- do result.pop('IsDeleted') -%}{%- endif -%}
    {{ return(result) }}
{%- endmacro %}
