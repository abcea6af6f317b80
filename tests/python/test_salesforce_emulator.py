"""The Salesforce emulator, driven through simple-salesforce over verified HTTPS."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
import simple_salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from ingest.salesforce.emulator.org import Org, sf_id
from ingest.salesforce.emulator.server import Emulator


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    with Emulator(Org("tiny", 7), ca_dir=tmp_path_factory.mktemp("emu_ca")) as emulator:
        yield emulator


def _session(emu: Emulator) -> requests.Session:
    session = requests.Session()
    session.verify = emu.ca_bundle
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override session.verify
    return session


@pytest.fixture(scope="module")
def sf(emu):
    token = requests.post(
        emu.instance_url + "/services/oauth2/token",
        data={"grant_type": "password", "username": "u", "password": "p"},
        verify=emu.ca_bundle,
        timeout=10,
    ).json()
    assert token["token_type"] == "Bearer" and token["instance_url"] == emu.instance_url
    return simple_salesforce.Salesforce(
        instance_url=emu.instance_url, session_id=token["access_token"], session=_session(emu)
    )


def test_ids_are_18_characters_with_prefix():
    assert sf_id("006", 0) == "0065g0000000000AAA"
    assert len(sf_id("00Q", 12345)) == 18


def test_query_all_pages_and_matches_ground_truth(emu, sf):
    emu.page_size = 200
    try:
        result = sf.query_all(
            "SELECT Id, SystemModstamp, Status FROM Task ORDER BY SystemModstamp, Id"
        )
    finally:
        emu.page_size = 2000
    assert emu.stats["queryMore"] >= 3
    result = sf.query_all("SELECT Id, SystemModstamp, Status FROM Task ORDER BY SystemModstamp, Id")
    truth = emu.org.current_records("Task", include_deleted=False)
    assert result["totalSize"] == len(truth) > 500
    assert sorted(r["Id"] for r in result["records"]) == [r["Id"] for r in truth]
    page = sf.query("SELECT Id FROM Task", headers={"Sforce-Query-Options": "batchSize=200"})
    assert page["done"] is False and "/query/" in page["nextRecordsUrl"]
    assert len(page["records"]) == 200


def test_aggregate_shapes(emu, sf):
    count_only = sf.query("SELECT COUNT() FROM Opportunity")
    assert count_only["records"] == [] and count_only["totalSize"] == emu.org.count("Opportunity")
    agg = sf.query("SELECT COUNT(), SUM(Amount) FROM Opportunity WHERE IsDeleted = false")
    record = agg["records"][0]
    assert agg["totalSize"] == 1 and record["attributes"]["type"] == "AggregateResult"
    truth = emu.org.current_records("Opportunity", include_deleted=False)
    assert record["expr0"] == len(truth)
    assert record["expr1"] == pytest.approx(sum(r["Amount"] or 0 for r in truth))


def test_describe_and_limits(sf):
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert fields["Id"]["type"] == "id" and fields["Amount"]["type"] == "currency"
    assert fields["Forecast_Notes__c"]["type"] == "textarea"
    assert any(p["value"] == "Closed Won" for p in fields["StageName"]["picklistValues"])
    before = sf.limits()["DailyApiRequests"]["Remaining"]
    assert sf.limits()["DailyApiRequests"]["Remaining"] == before - 1


def test_bulk2_query_and_query_all(emu, sf, tmp_path):
    chunks = list(
        sf.bulk2.Opportunity.query(
            "SELECT Id, Amount, IsClosed FROM Opportunity", max_records=100, wait=0.05
        )
    )
    assert len(chunks) > 1 and chunks[0].startswith('"Id","Amount","IsClosed"\n')
    rows = sum(len(c.strip().splitlines()) - 1 for c in chunks)
    assert rows == emu.org.count("Opportunity")
    emu.org.soft_delete("Opportunity")
    everything = list(
        sf.bulk2.Opportunity.query_all("SELECT Id, IsDeleted FROM Opportunity", wait=0.05)
    )
    assert '"true"' in everything[0]
    downloaded = sf.bulk2.Opportunity.download(
        "SELECT Id FROM Opportunity", str(tmp_path), wait=0.05
    )
    assert downloaded[0]["number_of_records"] == emu.org.count("Opportunity")


def test_errors_and_throttles(emu, sf):
    emu.throttle(1, 403)
    with pytest.raises(SalesforceRefusedRequest):
        sf.limits()
    emu.throttle(1, 503)
    with pytest.raises(SalesforceGeneralError):
        sf.limits()
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Nope__c FROM Opportunity")
    bad = simple_salesforce.Salesforce(
        instance_url=emu.instance_url, session_id="bogus", session=_session(emu)
    )
    with pytest.raises(SalesforceExpiredSession):
        bad.limits()


def test_updated_deleted_and_purge(emu, sf):
    org = emu.org
    start = org.now
    org.soft_delete("Account")
    org.update_record("Account")
    org.hard_delete("Account")
    end = datetime(2030, 1, 1, tzinfo=UTC)
    assert sf.Account.updated(start, end)["ids"]
    deleted = sf.Account.deleted(start, end)
    assert deleted["deletedRecords"] and "earliestDateAvailable" in deleted
    purged = org.hard_deleted_ids("Account")
    all_ids = {
        r["Id"] for r in sf.query_all("SELECT Id FROM Account", include_deleted=True)["records"]
    }
    assert purged and not set(purged) & all_ids


def test_determinism():
    a, b = Org("tiny", 3), Org("tiny", 3)
    assert a.current_records("Opportunity") == b.current_records("Opportunity")
    assert a.advance(40) == b.advance(40)
    assert a.drain_cdc() == b.drain_cdc()
    assert Org("tiny", 4).current_records("User") != a.current_records("User")


def test_cdc_shapes():
    org = Org("tiny", 5)
    opp = org.current_records("Opportunity")[0]
    org.update_record(
        "Opportunity", opp["Id"], {"StageName": "Negotiation/Review", "Forecast_Notes__c": None}
    )
    contact = org.current_records("Contact")[0]
    org.update_record("Contact", contact["Id"], {"LastName": "Zed"})
    org.soft_delete("Account")
    org.mass_reassign("Opportunity", 4)
    org.inject_gap("Lead", "GAP_UPDATE", 2)
    org.update_record("Task")  # no CDC for activities
    events = org.drain_cdc()
    values = [json.loads(v) for _t, _k, v in events]
    assert [t for t, _k, _v in events][:2] == [
        "salesforce.cdc.Opportunity",
        "salesforce.cdc.Contact",
    ]
    upd = values[0]["payload"]
    header = upd["ChangeEventHeader"]
    assert header["changeType"] == "UPDATE" and header["recordIds"] == [opp["Id"]]
    assert set(upd) == {"ChangeEventHeader", "StageName", "LastModifiedDate", "SystemModstamp"} | (
        {"Forecast_Notes__c"} if opp["Forecast_Notes__c"] else set()
    )
    assert events[0][1] == opp["Id"].encode()
    assert values[1]["payload"]["Name"] == {"LastName": "Zed"}
    assert values[1]["payload"]["ChangeEventHeader"]["changedFields"][0] == "Name.LastName"
    delete = values[2]["payload"]
    assert (
        set(delete) == {"ChangeEventHeader"}
        and delete["ChangeEventHeader"]["changeType"] == "DELETE"
    )
    mass = values[3]["payload"]["ChangeEventHeader"]
    assert len(mass["recordIds"]) > 1 and values[3]["payload"]["OwnerId"]
    gap = values[4]["payload"]
    assert (
        set(gap) == {"ChangeEventHeader"} and gap["ChangeEventHeader"]["changeType"] == "GAP_UPDATE"
    )
    assert len(values) == 5
    numbers = [v["payload"]["ChangeEventHeader"]["commitNumber"] for v in values]
    assert numbers == sorted(numbers) and all("replayId" in v["event"] for v in values)


def test_schema_drift_shows_in_describe(emu, sf):
    emu.org.add_field("Lead", "Score__c", "double")
    emu.org.remove_field("Lead", "Phone")
    emu.org.set_picklist("Lead", "Status", ["New", "Working"], inactive=["Closed - Converted"])
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert fields["Score__c"]["type"] == "double" and "Phone" not in fields
    assert [p["value"] for p in fields["Status"]["picklistValues"]] == [
        "New",
        "Working",
        "Closed - Converted",
    ]
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Phone FROM Lead")


def test_admin_api_and_cdc_files(emu, tmp_path):
    resp = requests.post(
        emu.instance_url + "/_emulator/advance",
        json={"changes": 20},
        verify=emu.ca_bundle,
        timeout=10,
    )
    assert len(resp.json()["changes"]) == 20
    counts = emu.org.write_cdc_jsonl(tmp_path)
    assert counts and all((tmp_path / f"{topic}.jsonl").exists() for topic in counts)


def test_users_from_okta_log(tmp_path):
    from ingest.salesforce.emulator.org import okta_users_from_company

    lines = [
        {
            "eventType": "user.lifecycle.create",
            "published": f"2026-0{i + 1}-01T00:00:00Z",
            "target": [
                {"id": f"00uOKTA{i}", "alternateId": f"rep{i}@x.example", "displayName": f"Rep {i}"}
            ],
        }
        for i in range(3)
    ]
    lines.append(
        {**lines[0], "eventType": "user.lifecycle.deactivate", "published": "2026-05-01T00:00:00Z"}
    )
    text = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    (tmp_path / "okta.system_log.v1.jsonl").write_text(text)
    users = okta_users_from_company(tmp_path)
    assert [u.okta_id for u in users] == ["00uOKTA0", "00uOKTA1", "00uOKTA2"]
    org = Org("tiny", 1, okta_users=users)
    sf_users = {u["FederationIdentifier"]: u for u in org.current_records("User")}
    assert set(sf_users) == {"00uOKTA0", "00uOKTA1", "00uOKTA2"}
    assert sf_users["00uOKTA0"]["IsActive"] is False
    owners = {o["OwnerId"] for o in org.current_records("Opportunity")}
    assert owners <= {u["Id"] for u in sf_users.values()}
    assert min(o["CloseDate"] for o in org.current_records("Opportunity")) >= "2026-01-01"


def test_cdc_to_kafka_mock_cluster():
    from confluent_kafka import Consumer

    from ingest.kafka.mock_cluster import MockCluster
    from ingest.salesforce.emulator.command import cdc_publisher

    cluster = MockCluster(num_brokers=1)
    bootstrap = cluster.start()
    cluster.create_topic("salesforce.cdc.Opportunity", partitions=1)
    org = Org("tiny", 7)
    for _ in range(3):
        org.update_record("Opportunity")
    events = org.drain_cdc()
    cdc_publisher(bootstrap)(events)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "emu", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe(["salesforce.cdc.Opportunity"])
    got = []
    try:
        for _ in range(40):
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                got.append((message.key(), message.value()))
            if len(got) == len(events):
                break
    finally:
        consumer.close()
    assert got == [(key, value) for _topic, key, value in events]


def test_jwt_grant_and_daily_limit(tmp_path):
    with Emulator(Org("tiny", 2), ca_dir=tmp_path) as emu:
        token = requests.post(
            emu.instance_url + "/services/oauth2/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": "x.y.z",
            },
            verify=emu.ca_bundle,
            timeout=10,
        ).json()["access_token"]
        sf = simple_salesforce.Salesforce(
            instance_url=emu.instance_url, session_id=token, session=_session(emu)
        )
        emu.set_daily_limit(100, remaining=2)
        assert sf.limits()["DailyApiRequests"] == {"Max": 100, "Remaining": 1}
        sf.limits()
        with pytest.raises(SalesforceRefusedRequest, match="REQUEST_LIMIT_EXCEEDED"):
            sf.limits()
