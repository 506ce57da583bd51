"""Pagination envelopes and links, job listings, and the runcard/calibration records."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from .http_support import assert_problem, client_for, job_body


def _get_like_requests(url, params, headers):
    """GET ``url`` with ``params`` appended to its query, as ``requests`` does."""
    separator = "&" if urlsplit(url).query else "?"
    return httpx.get(f"{url}{separator}{urlencode(params)}", headers=headers)


def _query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_job_pages_and_links(make_server):
    with make_server(workers=0) as server:
        alice = client_for(server, "alice")
        ids = [alice.post("/circuits", json=job_body(name=f"job-{i}")).json()["job_id"] for i in range(5)]
        first = alice.get("/jobs", params={"per_page": 2}).json()
        assert first["total"] == 5 and first["per_page"] == 2
        assert [item["id"] for item in first["items"]] == [ids[4], ids[3]]  # newest first
        links = first["links"]
        assert links["first"].startswith(f"{server.url}/api/v1/jobs?")
        assert _query(first["self"]) == {"page": "1", "per_page": "2"}
        assert _query(links["prev"])["page"] == "None"
        assert _query(links["next"])["page"] == "2"
        assert _query(links["last"])["page"] == "3"
        item = first["items"][0]
        assert {"id", "status", "user_id", "device_id", "job_type", "number_shots", "queue_position"} <= set(
            item
        )
        assert "description" not in item and "result" not in item
        assert item["queue_position"] == 4

        # Follow `next` like the released client: until it contains None, passing params again.
        seen, url, pages = [], f"{server.url}/api/v1/jobs", 0
        while "None" not in url:
            page = _get_like_requests(url, {"favourites": False}, alice.headers).json()
            seen += [item["id"] for item in page["items"]]
            url = page["links"]["next"]
            pages += 1
            assert pages <= 10
        assert pages == 1  # the default page size holds all five
        url = f"{server.url}/api/v1/jobs?per_page=2"
        seen, pages = [], 0
        while "None" not in url:
            page = _get_like_requests(url, {"favourites": False}, alice.headers).json()
            seen += [item["id"] for item in page["items"]]
            url = page["links"]["next"]
            pages += 1
            assert pages <= 10
        assert pages == 3 and seen == ids[::-1]
        last = alice.get("/jobs", params={"per_page": 2, "page": 3}).json()
        assert _query(last["links"]["prev"])["page"] == "2"
        beyond = alice.get("/jobs", params={"per_page": 2, "page": 9}).json()
        assert beyond["items"] == [] and "page=None" in beyond["links"]["next"]
        # Other users have their own, empty listing.
        bob_page = client_for(server, "bob").get("/jobs").json()
        assert bob_page["total"] == 0 and bob_page["items"] == []
        assert "page=None" in bob_page["links"]["next"] and "page=1" in bob_page["links"]["last"]


def test_listed_queue_positions_match_each_job(make_server):
    with make_server(workers=0) as server:
        alice, bob = client_for(server, "alice"), client_for(server, "bob")
        for index in range(7):
            (bob if index % 3 == 0 else alice).post("/circuits", json=job_body())
        listed = []
        for number in (1, 2, 3):
            listed += alice.get("/jobs", params={"per_page": 2, "page": number}).json()["items"]
        assert len(listed) == 4
        for item in listed:
            assert item["queue_position"] == alice.get(f"/jobs/{item['id']}").json()["queue_position"]
        assert [item["queue_position"] for item in listed] == [5, 4, 2, 1]
        alice.put(f"/jobs/cancel/{listed[-1]['id']}", json={"job_id": listed[-1]["id"]})
        after = alice.get("/jobs", params={"per_page": 4}).json()["items"]
        assert [item["queue_position"] for item in after] == [4, 3, 1, 0]


def test_favourites_filter(make_server):
    with make_server(workers=0) as server:
        alice = client_for(server, "alice")
        ids = [alice.post("/circuits", json=job_body()).json()["job_id"] for _ in range(3)]
        with server.app.store._lock:
            server.app.store._conn.execute("UPDATE jobs SET favourite = 1 WHERE id = ?", (ids[1],))
        favourites = alice.get("/jobs", params={"favourites": "true"}).json()
        assert [item["id"] for item in favourites["items"]] == [ids[1]]
        assert favourites["items"][0]["favourite"] is True
        assert "favourites=true" in favourites["links"]["next"]
        assert alice.get("/jobs", params={"favourites": "False"}).json()["total"] == 3


def test_device_listing_and_status(qaas_server, clients):
    alice, admin = clients("alice"), clients("admin")
    page = alice.get("/devices").json()
    by_id = {d["id"]: d for d in page["items"]}
    simulator = by_id[qaas_server.devices["simulator"]]
    assert simulator["type"] == "simulator_device" and simulator["status"] == "online"
    assert simulator["static_features"] == {"max_qubits": 20, "max_shots": 1000000}
    assert by_id[qaas_server.devices["maintenance"]]["status"] == "maintenance"
    assert by_id[qaas_server.devices["offline"]]["status"] == "offline"
    assert by_id[qaas_server.devices["offline"]]["type"] == "quantum_device"
    assert alice.get("/devices/1").json()["name"] == simulator["name"]
    assert_problem(alice.get("/devices/999"), 404, "999")
    maintenance = qaas_server.devices["maintenance"]
    assert_problem(alice.put(f"/devices/{maintenance}", json={"status": "online"}), 403)
    updated = admin.put(f"/devices/{maintenance}", json={"status": "online"})
    assert updated.status_code == 200 and updated.json()["status"] == "online"
    assert (
        admin.put(f"/devices/{maintenance}", json={"status": "maintenance"}).json()["status"] == "maintenance"
    )
    assert_problem(admin.put("/devices/999", json={"status": "online"}), 404)


def test_users_endpoint(qaas_server, clients):
    alice, bob, admin = clients("alice"), clients("bob"), clients("admin")
    alice_id = alice.post("/circuits", json=job_body()).json()["job_id"]
    alice_id = alice.get(f"/jobs/{alice_id}").json()["user_id"]
    me = alice.get(f"/users/{alice_id}")
    assert me.status_code == 200 and me.json()["username"] == "alice" and me.json()["slack_id"] is None
    assert_problem(bob.get(f"/users/{alice_id}"), 404)
    assert admin.get(f"/users/{alice_id}").json()["username"] == "alice"
    assert_problem(admin.get("/users/999999"), 404)


def _record(kind, name, **overrides):
    field = "runcard" if kind == "runcards" else "calibration"
    body = {
        "name": name,
        "description": "d",
        field: "eyJhIjogMX0=",
        "device_id": 1,
        "user_id": 1,
        "qililab_version": "0.27.0",
    }
    body.update(overrides)
    return body


def test_records_crud(clients):
    admin, alice = clients("admin"), clients("alice")
    for kind, id_field in (("runcards", "runcard_id"), ("calibrations", "calibration_id")):
        field = kind[:-1]
        created = admin.post(f"/{kind}", json=_record(kind, f"{kind}-one"))
        assert created.status_code == 201, created.text
        record = created.json()
        record_id = record[id_field]
        assert record[field] == "eyJhIjogMX0=" and record["qililab_version"] == "0.27.0"
        assert record["created_at"] == record["updated_at"]
        assert admin.get(f"/{kind}/{record_id}").json() == record
        assert admin.get(f"/{kind}/by_keys", params={"name": f"{kind}-one"}).json() == record
        assert_problem(admin.post(f"/{kind}", json=_record(kind, f"{kind}-one")), 409, f"{kind}-one")
        other = admin.post(f"/{kind}", json=_record(kind, f"{kind}-two")).json()
        updated = admin.put(f"/{kind}/{record_id}", json=_record(kind, f"{kind}-one", description="new"))
        assert updated.status_code == 200 and updated.json()["description"] == "new"
        assert updated.json()["updated_at"] >= record["updated_at"]
        renamed_onto_other = admin.put(f"/{kind}/{record_id}", json=_record(kind, f"{kind}-two"))
        assert_problem(renamed_onto_other, 409)
        listing = admin.get(f"/{kind}", params={"per_page": 1}).json()
        assert listing["total"] >= 2 and len(listing["items"]) == 1
        assert admin.delete(f"/{kind}/{record_id}").status_code == 204
        assert_problem(admin.get(f"/{kind}/{record_id}"), 404, str(record_id))
        assert_problem(admin.delete(f"/{kind}/{record_id}"), 404)
        assert_problem(admin.put(f"/{kind}/{record_id}", json=_record(kind, "x")), 404)
        assert_problem(admin.get(f"/{kind}/by_keys", params={"name": "nope"}), 404, "nope")
        assert admin.delete(f"/{kind}/{other[id_field]}").status_code == 204
        # Users get 403 on every record operation.
        for response in (
            alice.post(f"/{kind}", json=_record(kind, "mine")),
            alice.get(f"/{kind}"),
            alice.get(f"/{kind}/1"),
            alice.get(f"/{kind}/by_keys", params={"name": "x"}),
            alice.put(f"/{kind}/1", json=_record(kind, "mine")),
            alice.delete(f"/{kind}/1"),
        ):
            assert_problem(response, 403, "admin")
