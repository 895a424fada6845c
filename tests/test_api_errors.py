"""Every error under /api comes as {"error", "message", "hint"} with a fitting status; the docs are behind
--auth; bodies over the limit get 413 unread; Gradio's own routes answer as before; locally any path works."""

from __future__ import annotations

import base64
import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from app_server import AppServer

AUTH = ("tester", "secret-pass")
CHUNK = b" " * 65536
BASIC = "Authorization: Basic " + base64.b64encode(":".join(AUTH).encode()).decode()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    server = AppServer(tmp_path_factory.mktemp("errors") / "home", ("--auth", ":".join(AUTH)))
    yield server
    server.stop()


def _shape(response: httpx.Response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "hint"} and body["error"] == error, body
    return body


def test_a_missing_login_is_401_in_the_documented_shape(app):
    body = _shape(httpx.get(app.url + "/api/info", timeout=30), 401, "AuthenticationError")
    assert "--auth" in body["message"] and "HTTP Basic" in body["hint"]
    assert httpx.get(app.url + "/api/info", auth=AUTH, timeout=30).status_code == 200


def test_the_api_docs_are_behind_auth(app):
    for path in ("/openapi.json", "/docs"):
        _shape(httpx.get(app.url + path, timeout=30), 401, "AuthenticationError")
    schema = httpx.get(app.url + "/openapi.json", auth=AUTH, timeout=30).json()
    assert "/api/finetune/start_training" in schema["paths"]
    docs = httpx.get(app.url + "/docs", auth=AUTH, timeout=30)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/api/finetune/start_training", b'{"model_name": ', "the request body is not valid JSON"),
        ("/api/finetune/start_training", b"[1, 2]", "the request body: Input should be a valid dictionary, got a list"),
        ("/api/playground/generate", json.dumps({"model_id": "m", "prompt": "hi", "max_new_tokens": -1}).encode(),
         "max_new_tokens: Input should be greater than or equal to 1, got -1"),
        ("/api/playground/generate", b'{"model_id": "m"}', "prompt: Field required"),
    ],
)
def test_request_validation_is_422_with_the_field_and_the_problem_in_words(app, path, body, words):
    response = httpx.post(app.url + path, content=body, headers={"content-type": "application/json"}, auth=AUTH, timeout=30)
    found = _shape(response, 422, "RequestValidationError")
    assert words in found["message"] and "/docs" in found["hint"], found


def test_an_unknown_api_route_or_method_is_named_with_the_routes_that_exist(app):
    body = _shape(httpx.get(app.url + "/api/xyz", auth=AUTH, timeout=30), 404, "NotFoundError")
    assert body["message"] == "No API route GET /api/xyz." and "/api/info" in body["hint"] and "/api/models" in body["hint"]
    body = _shape(httpx.get(app.url + "/api/finetune/start_training", auth=AUTH, timeout=30), 405, "MethodNotAllowedError")
    assert "answers POST" in body["message"]


def test_gradio_routes_outside_api_answer_as_before(app):
    missing = httpx.get(app.url + "/gradio_api/no-such-route", timeout=30)
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    login = httpx.get(app.url + "/config", timeout=30)
    assert login.status_code == 401 and "detail" in login.json() and "error" not in login.json()


def _raw_post(url: str, head: list[str], chunks: list[bytes]) -> tuple[int, dict]:
    """POST over a plain socket: send the head and ``chunks``, then read the answer (status, JSON body)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(("\r\n".join(["POST /api/finetune/start_training HTTP/1.1", f"Host: {parts.netloc}", *head]) + "\r\n\r\n").encode())
        for chunk in chunks:
            sock.sendall(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head_bytes, body = answer.split(b"\r\n\r\n", 1)
    return int(head_bytes.split()[1]), json.loads(body[: _length(answer)])


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 1 << 30


def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(app):
    head = [BASIC, "Content-Type: application/json", f"Content-Length: {20 * 1024 * 1024}"]
    status, body = _raw_post(app.url, head, [])  # 20 MB announced, not one byte of it sent
    assert status == 413 and body["error"] == "RequestTooLargeError", body
    assert "larger than this API's limit of 1 MB" in body["message"] and "MODELFORGE_MAX_BODY_MB" in body["hint"]


def test_a_chunked_body_is_counted_and_refused_once_past_the_limit(app):
    chunks = [b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)] * 17  # 17 x 64 KiB: just past 1 MB
    status, body = _raw_post(app.url, [BASIC, "Content-Type: application/json", "Transfer-Encoding: chunked"], chunks)
    assert status == 413 and "limit of 1 MB" in body["message"], body


def test_a_body_within_the_limit_still_reaches_the_route(app):
    config = {"model_name": "/no/such/model", "dataset": "/no/such/data.jsonl", "notes": "x" * 500_000}
    response = httpx.post(app.url + "/api/finetune/start_training", json=config, auth=AUTH, timeout=60)
    assert response.status_code == 422 and "notes" in response.json()["message"], response.text


def test_locally_a_dataset_anywhere_on_the_machine_previews(app, tmp_path):
    from gradio_client import Client

    data = tmp_path / "elsewhere.jsonl"
    data.write_text("".join(f'{{"instruction": "Say {n}", "output": "{n}"}}\n' for n in range(12)), encoding="utf-8")
    assert httpx.get(app.url + "/api/info", auth=AUTH, timeout=30).json()["access"]["mode"] == "local"
    text, _ = Client(app.url, auth=AUTH, verbose=False).predict(str(data), "text-generation", "", api_name="/preview_dataset")
    assert "**Ready.**" in text and "12 rows" in text, text
