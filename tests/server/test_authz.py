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


def _insert_job(db, user_id: str, upload_id: str, status: str) -> str:
    """A job row as the jobs code writes it, with one artifact; no worker needed for authz."""
    import sqlalchemy as sa

    from octavia.server import tables as t
    from octavia.server.db import new_id, utcnow

    job_id, now = new_id("job"), utcnow()
    with db.begin() as conn:
        conn.execute(
            sa.insert(t.jobs).values(
                id=job_id, user_id=user_id, upload_id=upload_id, kind="subtitle", status=status,
                languages=[], options={}, progress={}, created_at=now, enqueued_at=now,
            )
        )  # fmt: skip
        conn.execute(
            sa.insert(t.artifacts).values(
                job_id=job_id, name="subtitles.srt", storage_key=f"jobs/{job_id}/subtitles.srt", size=3,
                content_type="application/x-subrip", created_at=now,
            )
        )  # fmt: skip
    return job_id


def test_jobs_of_others_are_invisible(two_users, media_files, live_server):
    alice, bob = two_users
    up = upload_file(alice.client, media_files.wav, "audio/wav")
    job_id = _insert_job(live_server.app.state.db, alice.id, up["id"], "done")
    for method, path in [
        ("GET", f"/v1/jobs/{job_id}"),
        ("POST", f"/v1/jobs/{job_id}/cancel"),
        ("GET", f"/v1/jobs/{job_id}/events"),
        ("GET", f"/v1/jobs/{job_id}/artifacts"),
        ("GET", f"/v1/jobs/{job_id}/artifacts/subtitles.srt"),
    ]:
        assert_hidden(bob.client, method, path)
    assert bob.client.get("/v1/jobs").json() == []
    # Bob cannot start a job on Alice's upload.
    assert_hidden(bob.client, "POST", "/v1/jobs", json={"kind": "subtitle", "upload_id": up["id"]})
    assert alice.client.get(f"/v1/jobs/{job_id}").status_code == 200
    # A finished job keeps its results when its source upload is deleted (upload_id → NULL).
    assert alice.client.delete(f"/v1/uploads/{up['id']}").status_code == 204
    assert alice.client.get(f"/v1/jobs/{job_id}").status_code == 200


def test_upload_in_use_by_an_active_job_cannot_be_deleted(user_factory, media_files, live_server):
    user = user_factory()
    up = upload_file(user.client, media_files.wav, "audio/wav")
    _insert_job(live_server.app.state.db, user.id, up["id"], "queued")
    r = user.client.delete(f"/v1/uploads/{up['id']}")
    assert r.status_code == 409 and r.json()["code"] == "upload_in_use"
