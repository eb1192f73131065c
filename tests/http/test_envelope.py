"""Success envelopes, list queries (validation, meta) and domain objects on the wire."""

from __future__ import annotations

import pytest

from tests.http.conftest import API, assert_error
from tests.http.probe import SECRET, USERS
from turbocat_core.domain.common import Page, QuerySpec
from turbocat_core.errors import ValidationFailed
from turbocat_http.envelope import ListParams, list_query, ok, paged, snake

USERS_URL = f"{API}/probe/users"


async def test_a_page_has_data_and_meta(client):
    response = await client.get(USERS_URL, params={"page": 2, "pageSize": 10})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert len(body["data"]) == 10
    assert body["meta"] == {
        "page": 2,
        "pageSize": 10,
        "total": 25,
        "totalPages": 3,
        "hasNext": True,
        "hasPrev": True,
    }


async def test_defaults_are_page_one_of_twenty_newest_first(client):
    body = (await client.get(USERS_URL)).json()
    assert body["meta"]["page"] == 1 and body["meta"]["pageSize"] == 20
    assert body["meta"]["hasPrev"] is False and body["meta"]["hasNext"] is True
    created = [user["createdAt"] for user in body["data"]]
    assert created == sorted(created, reverse=True)


async def test_sort_by_takes_camel_case_names(client):
    body = (await client.get(USERS_URL, params={"sortBy": "fullName", "sortOrder": "asc"})).json()
    names = [user["fullName"] for user in body["data"]]
    assert names == sorted(names)


async def test_enum_filters_and_past_the_end(client):
    body = (await client.get(USERS_URL, params={"role": "ADMIN"})).json()
    assert [user["role"] for user in body["data"]] == ["ADMIN"]
    body = (await client.get(USERS_URL, params={"page": 9})).json()
    assert body["data"] == [] and body["meta"]["hasNext"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"pageSize": -5}, "pageSize"),
        ({"pageSize": "ten"}, "pageSize"),
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"page": 10_000_001}, "page"),
        ({"page": "1.5"}, "page"),
        ({"sortBy": "nope"}, "sortBy"),
        ({"sortBy": "full_name"}, "sortBy"),  # the wire is camelCase
        ({"sortBy": "passwordHash"}, "sortBy"),
        ({"sortOrder": "up"}, "sortOrder"),
        ({"sortOrder": "ASC"}, "sortOrder"),
        ({"role": "ROOT"}, "role"),
        ({"role": "admin"}, "role"),
        ({"tags": "a,b"}, "tags"),  # the users listing has no tags
        ({"search": "x" * 201}, "search"),
    ],
)
async def test_out_of_range_and_unknown_values_are_validation_errors(client, params, field):
    error = assert_error(await client.get(USERS_URL, params=params), 400, "VALIDATION_ERROR")
    assert field in [problem["field"] for problem in error["details"]], error


async def test_every_problem_is_reported_at_once_by_list_query():
    spec = QuerySpec(sortable=frozenset({"created_at", "name"}), filterable=frozenset())
    with pytest.raises(ValidationFailed) as raised:
        list_query(ListParams(page=0, page_size=500, sort_by="size"), spec)
    assert {d.field for d in raised.value.details} == {"page", "pageSize", "sortBy"}


def test_list_query_maps_the_wire_to_the_core():
    spec = QuerySpec(
        sortable=frozenset({"created_at", "last_login_at"}), filterable=frozenset({"status"})
    )
    query = list_query(
        ListParams(page=3, page_size=7, sort_by="lastLoginAt", search="  hi ", tags=("a", "b")),
        spec,
        filters={"status": "ACTIVE", "other": None},
    )
    assert (query.page, query.page_size, query.offset) == (3, 7, 14)
    assert query.sort_by == "last_login_at"
    assert query.search == "hi" and query.tags == ("a", "b")
    assert dict(query.filters) == {"status": "ACTIVE"}
    assert snake("lastLoginAt") == "last_login_at"


async def test_domain_objects_go_out_in_camel_case_without_secrets(client):
    response = await client.get(f"{USERS_URL}/{USERS[3].id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["email"] == "user3@example.com"
    assert data["fullName"] == "User 3"
    assert data["isActive"] is True and data["lastLoginAt"] is None
    assert "passwordHash" not in data and "password_hash" not in data
    assert SECRET not in response.text


def test_ok_and_paged_build_the_envelopes():
    assert ok({"a": 1}).data == {"a": 1}
    envelope = paged(Page(items=USERS[:2], total=2, page=1, page_size=20))
    assert envelope.meta.total_pages == 1 and envelope.meta.has_next is False
    assert envelope.data[0]["email"] == "user0@example.com"
