"""`finetune submit` through the real openai SDK against small HTTP servers on 127.0.0.1: one without
a fine-tuning API (404), one that accepts uploads and jobs. Nothing in the SDK is mocked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from caseworker.cli_finetune import finetune_app
from finetune.submit import MissingKeyError, UnsupportedEndpointError, submit_job
from tests.test_finetune_data import MAP_ARGS, write_tickets_csv

runner = CliRunner()


@dataclass
class FakeProvider:
    """Which routes exist, and what arrived at them."""

    routes: set[str]
    uploads: list[bytes] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            return None

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            provider.paths.append(self.path)
            if self.path not in provider.routes:
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            elif self.path == "/v1/files":
                provider.uploads.append(body)
                number = len(provider.uploads)
                self._send(
                    200,
                    {
                        "id": f"file-{number}",
                        "object": "file",
                        "bytes": len(body),
                        "created_at": 1,
                        "filename": "x.jsonl",
                        "purpose": "fine-tune",
                        "status": "processed",
                    },
                )
            else:
                job = json.loads(body)
                provider.jobs.append(job)
                self._send(
                    200,
                    {
                        "id": "ftjob-1",
                        "object": "fine_tuning.job",
                        "created_at": 1,
                        "model": job["model"],
                        "status": "validating_files",
                        "training_file": job["training_file"],
                        "validation_file": job.get("validation_file"),
                        "hyperparameters": {},
                        "organization_id": "org",
                        "result_files": [],
                        "seed": job.get("seed", 0),
                        "error": None,
                        "fine_tuned_model": None,
                        "finished_at": None,
                        "trained_tokens": None,
                    },
                )

    return Handler


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(routes: set[str]) -> tuple[str, FakeProvider]:
        provider = FakeProvider(routes)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1", provider

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("submit")
    out = tmp / "out"
    result = runner.invoke(
        finetune_app,
        [
            "build",
            "--out",
            str(out),
            "--from",
            str(write_tickets_csv(tmp / "t.csv")),
            *MAP_ARGS,
            "--data-dir",
            str(tmp / "d"),
            "--epochs",
            "2",
            "--target-model",
            "gpt-4.1-nano-2025-04-14",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_endpoint_without_files_route_is_a_clear_error(serve: Any, build_dir: Path) -> None:
    url, provider = serve(set())
    with pytest.raises(UnsupportedEndpointError) as caught:
        submit_job(build_dir / "train.jsonl", None, api_key="k", base_url=url, model="m")
    message = str(caught.value)
    assert f"the endpoint {url} does not support fine-tuning: POST /files answered HTTP 404" in message
    assert provider.paths == ["/v1/files"]  # one request: a 404 is not retried


def test_endpoint_without_jobs_route_names_that_route(serve: Any, build_dir: Path) -> None:
    url, _ = serve({"/v1/files"})
    with pytest.raises(UnsupportedEndpointError, match="POST /fine_tuning/jobs answered HTTP 404"):
        submit_job(build_dir / "train.jsonl", None, api_key="k", base_url=url, model="m")


def test_missing_key_fails_before_any_request(serve: Any, build_dir: Path) -> None:
    url, provider = serve({"/v1/files"})
    with pytest.raises(MissingKeyError, match="no API key configured"):
        submit_job(build_dir / "train.jsonl", None, api_key=None, base_url=url, model="m")
    assert provider.paths == []


def test_cli_submit_uploads_both_files_and_creates_the_job(
    serve: Any, build_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, provider = serve({"/v1/files", "/v1/fine_tuning/jobs"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.delenv("CASEWORKER_MODEL", raising=False)
    result = runner.invoke(finetune_app, ["submit", str(build_dir), "--suffix", "helpdesk"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["job_id"] == "ftjob-1"
    assert len(provider.uploads) == 2
    train, val = ((build_dir / name).read_bytes() for name in ("train.jsonl", "val.jsonl"))
    assert (
        train in provider.uploads[0]
        and b'name="purpose"' in provider.uploads[0]
        and b"fine-tune" in provider.uploads[0]
    )
    assert val in provider.uploads[1]
    (job,) = provider.jobs
    assert job["model"] == "gpt-4.1-nano-2025-04-14"  # the build's target model
    assert job["training_file"] == "file-1" and job["validation_file"] == "file-2"
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2 and job["seed"] == 13
    assert job["suffix"] == "helpdesk"


def test_cli_submit_errors(serve: Any, build_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, provider = serve(set())
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    no_key = runner.invoke(finetune_app, ["submit", str(build_dir)])
    assert no_key.exit_code == 2 and "no API key configured" in no_key.output
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    unsupported = runner.invoke(finetune_app, ["submit", str(build_dir)])
    assert unsupported.exit_code == 1 and "does not support fine-tuning" in unsupported.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n')
    refused = runner.invoke(finetune_app, ["submit", str(bad), "--model", "m"])
    assert refused.exit_code == 1 and "has format errors" in refused.output
    assert provider.paths == ["/v1/files"]  # only the unsupported attempt reached the server
