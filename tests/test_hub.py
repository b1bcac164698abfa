import http.server
import socket
import threading

import pytest

from selector.core import hub


@pytest.fixture(autouse=True)
def fresh_hub_state(monkeypatch):
    hub.reset_for_tests()
    yield
    hub.reset_for_tests()


def test_offline_env_is_honoured_without_touching_the_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_probe", lambda *a: pytest.fail("network was contacted"))
    status = hub.hub_status()
    assert not status.reachable and "HF_HUB_OFFLINE" in status.reason


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_endpoint_is_reachable_and_answer_is_cached(monkeypatch):
    class Handler(http.server.BaseHTTPRequestHandler):
        calls = 0

        def do_HEAD(self):  # noqa: N802
            Handler.calls += 1
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        assert hub.hub_status().reachable
        assert hub.hub_status().reachable
        assert Handler.calls == 1
    finally:
        server.shutdown()


def test_unreachable_hub_answers_within_the_timeout_and_goes_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # A listening socket that never accepts: the request hangs until our timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
    try:
        status = hub.ensure_offline_unless_reachable(timeout=0.5)
        assert not status.reachable
        import os

        assert os.environ["HF_HUB_OFFLINE"] == "1"
    finally:
        silent.close()


def test_cached_repos_come_from_the_local_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    cache = tmp_path / "hub"
    snap = cache / "models--timm--resnet18.a1_in1k" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "model.safetensors").write_bytes(b"x" * 10)
    (cache / "models--timm--resnet18.a1_in1k" / "refs").mkdir()
    (cache / "models--timm--resnet18.a1_in1k" / "refs" / "main").write_text("abc123")
    only_config = cache / "models--bert-base-uncased" / "snapshots" / "def456"
    only_config.mkdir(parents=True)
    (only_config / "config.json").write_text("{}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    repos = hub.cached_model_repos()
    assert set(repos) == {"timm/resnet18.a1_in1k"}
    assert hub.is_cached("timm/resnet18.a1_in1k") and not hub.is_cached("bert-base-uncased")


def test_missing_cache_folder_means_nothing_cached(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "absent"))
    assert hub.cached_model_repos() == {}
