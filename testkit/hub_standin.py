"""A local stand-in for the few Hugging Face Hub HTTP endpoints a push uses, recording every request.

`huggingface_hub` talks to it exactly as to the Hub (point `HfApi(endpoint=...)` or `HF_ENDPOINT` at its URL):
repository creation, README metadata validation, the pre-upload query and the commit. It answers every file's
upload mode with "regular", so file contents travel base64-encoded inside the commit's NDJSON body, where a test
can read them back; the LFS/Xet path for large binary files is not emulated. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

REPO = r"(?P<type>model|dataset|space)s/(?P<repo>[^/]+/[^/]+)"
PREUPLOAD = re.compile(rf"^/api/{REPO}/preupload/(?P<revision>[^/]+)$")
COMMIT = re.compile(rf"^/api/{REPO}/commit/(?P<revision>[^/]+)$")


@dataclass
class Request:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)

    def ndjson(self) -> list[dict]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class Commit:
    """A commit the stand-in accepted: where, whether as a pull request, and the files it carried."""

    repo_type: str
    repo_id: str
    summary: str
    create_pr: bool
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class HubStandIn:
    """The server's address and what it saw."""

    url: str
    requests: list[Request] = field(default_factory=list)
    created: list[dict] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)


def _handler(state: HubStandIn, refuse: dict[str, int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request("POST", parts.path, parse_qs(parts.query), headers, body)
            state.requests.append(request)
            self._answer(*self._route(request))

        def _route(self, request: Request) -> tuple[int, dict]:
            if request.path in refuse:
                return refuse[request.path], {"error": f"refused by the stand-in: {request.path}"}
            if request.path == "/api/repos/create":
                payload = request.json()
                state.created.append(payload)
                prefix = "" if payload.get("type") in (None, "model") else f"{payload['type']}s/"
                return 200, {"url": f"{state.url}/{prefix}{payload['organization']}/{payload['name']}"}
            if request.path == "/api/validate-yaml":
                return 200, {"errors": [], "warnings": []}
            if match := PREUPLOAD.match(request.path):
                files = request.json()["files"]
                return 200, {
                    "files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
                }
            if match := COMMIT.match(request.path):
                return 200, self._commit(request, match)
            return 404, {"error": f"stand-in does not serve {request.path}"}

        def _commit(self, request: Request, match: re.Match) -> dict:
            lines = request.ndjson()
            create_pr = request.query.get("create_pr") == ["1"]
            commit = Commit(match["type"], match["repo"], lines[0]["value"]["summary"], create_pr)
            for line in lines[1:]:
                if line["key"] == "file":
                    commit.files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            state.commits.append(commit)
            oid = f"{len(state.commits):040x}"
            prefix = "" if match["type"] == "model" else f"{match['type']}s/"
            url = f"{state.url}/{prefix}{match['repo']}"
            return {
                "commitUrl": f"{url}/commit/{oid}",
                "commitOid": oid,
                "pullRequestUrl": f"{url}/discussions/{len(state.commits)}" if create_pr else None,
            }

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def hub_standin(refuse: dict[str, int] | None = None) -> Iterator[HubStandIn]:
    """Serve the stand-in on a free port of 127.0.0.1 for the duration of the block; `refuse` maps request
    paths to the HTTP error status to answer them with."""
    state = HubStandIn(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, refuse or {}))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
