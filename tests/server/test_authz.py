"""One user can never read, list, download, complete or delete another user's objects.

Others' ids answer exactly like missing ids (404 not_found), so ids leak nothing.
"""

from __future__ import annotations

from tests.server.conftest import assert_hidden, upload_file


def test_uploads_of_others_are_invisible(two_users, media_files):
    alice, bob = two_users
    up = upload_file(alice.client, media_files.wav, "audio/wav")
    pending = alice.client.post(
        "/v1/uploads", json={"filename": "b.wav", "content_type": "audio/wav", "size": 10}
    ).json()["upload"]

    for method, path in [
        ("GET", f"/v1/uploads/{up['id']}"),
        ("GET", f"/v1/uploads/{up['id']}/download"),
        ("POST", f"/v1/uploads/{pending['id']}/complete"),
        ("DELETE", f"/v1/uploads/{up['id']}"),
        ("GET", "/v1/uploads/upl_doesnotexist0000000"),
    ]:
        assert_hidden(bob.client, method, path)
    assert bob.client.get("/v1/uploads").json() == []
    # Alice still has both, untouched.
    assert alice.client.get(f"/v1/uploads/{up['id']}").json()["status"] == "ready"
    assert alice.client.get(f"/v1/uploads/{pending['id']}").json()["status"] == "pending"
    assert len(alice.client.get("/v1/uploads").json()) == 2


def test_projects_of_others_are_invisible(two_users, media_files):
    alice, bob = two_users
    prj = alice.client.post("/v1/projects", json={"name": "secret"}).json()
    assert_hidden(bob.client, "GET", f"/v1/projects/{prj['id']}")
    assert_hidden(bob.client, "DELETE", f"/v1/projects/{prj['id']}")
    assert bob.client.get("/v1/projects").json() == []
    # Bob cannot file an upload under Alice's project.
    assert_hidden(
        bob.client,
        "POST",
        "/v1/uploads",
        json={"filename": "a.wav", "content_type": "audio/wav", "size": 10, "project_id": prj["id"]},
    )
    assert alice.client.get(f"/v1/projects/{prj['id']}").status_code == 200


def test_api_keys_of_others_cannot_be_revoked(two_users):
    alice, bob = two_users
    key = alice.client.post("/v1/account/api-keys", json={"name": "ci"}).json()
    assert_hidden(bob.client, "DELETE", f"/v1/account/api-keys/{key['id']}")
    assert bob.client.get("/v1/account/api-keys").json() == []
    with alice.client.__class__(base_url=str(alice.client.base_url)) as c:
        r = c.get("/v1/account", headers={"Authorization": f"Bearer {key['key']}"})
    assert r.status_code == 200 and r.json()["id"] == alice.id


def test_anonymous_requests_are_refused(client, media_files):
    for method, path in [
        ("GET", "/v1/uploads"),
        ("POST", "/v1/uploads"),
        ("GET", "/v1/projects"),
        ("GET", "/v1/account"),
        ("GET", "/v1/account/api-keys"),
    ]:
        r = client.request(method, path)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    r = client.get("/v1/uploads", headers={"Authorization": "Bearer ses_forged"})
    assert r.status_code == 401
