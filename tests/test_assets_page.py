"""The assets page in a real headless Chromium, the JSON API, and webhooks after export."""
from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("flask")
pytest.importorskip("PIL")

from tests.test_assets import setup  # noqa: E402,F401

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def server(setup):  # noqa: F811
    from werkzeug.serving import make_server

    from cloudfiles.assets.server import create_app

    tmp, cfg = setup
    srv = make_server("127.0.0.1", 0, create_app(cfg), threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}", tmp, cfg
    srv.shutdown()


def test_api(server):
    import requests

    url, _, _ = server
    r = requests.post(url + "/api/search", json={"sql": "SELECT asset_name FROM assets WHERE asset_valid = 1"})
    assert r.json() == [{"asset_name": "p-cat001_s-raw001_d-calico-jumping_v001"}]
    assert requests.post(url + "/api/search", json={"sql": "DROP TABLE files"}).status_code == 400
    assert requests.post(url + "/api/update").json()["assets"][0]["asset_name"]
    assert requests.post(url + "/api/create").json() == {"assets": 1, "files": 3}
    r = requests.post(url + "/api/workflow", json={"workflow": ["update", "delete"]})
    assert r.json()["delete"]["deleted_staging"] == 7
    assert requests.post(url + "/api/workflow", json={"workflow": ["rm"]}).status_code == 400


def test_webhooks_after_export(setup, tmp_path):  # noqa: F811
    from cloudfiles.assets import Database

    _, cfg = setup
    got = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        cfg["exporters"] = [{"name": "disk", "target_directory": str(tmp_path / "out")}]
        cfg["webhooks"] = [{"url": f"http://127.0.0.1:{srv.server_port}/hook", "method": "post"}]
        out = Database(cfg).workflow(["update", "create", "export"])
        assert out["export"]["webhooks"] == [{"url": cfg["webhooks"][0]["url"], "status": 204}]
        assert got[0]["exports"][0]["files"] == 7
    finally:
        srv.shutdown()


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="no chromium/chromedriver binary (apt-get install chromium chromium-driver)")
def test_page_in_headless_chromium(server, tmp_path):
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    url, _, _ = server
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.get(url + "/")
        assert driver.title == "cloudfiles assets"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#graph .node.valid")) == 1
        assert len(driver.find_elements(By.CSS_SELECTOR, "#graph .node.invalid")) == 3
        box = driver.find_element(By.NAME, "sql")
        box.clear()
        box.send_keys("SELECT asset_name, asset_valid, asset_error FROM assets ORDER BY asset_name")
        driver.find_element(By.ID, "search").click()
        # The form submit loads a new page. Element handles from the old page may go stale (or be
        # refused with an inspector error) mid-navigation, so wait on the URL and the document, then
        # read the new page in one script call rather than through handles.
        WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(
            lambda d: "sql=" in d.current_url and d.execute_script("return document.readyState") == "complete"
        )
        rows = driver.execute_script(
            "return Array.from(document.querySelectorAll('#results tr'), r => r.innerText)")
        assert len(rows) == 5
        assert "p-cat001_s-raw001_d-alpha-cat_v001" in rows[1]
        red = driver.execute_script(
            "return Array.from(document.querySelectorAll('#results td.error'),"
            " c => [c.innerText, getComputedStyle(c).color])")
        assert len(red) == 3 and "channels: 4 is not in [1, 3]" in red[0][0]
        assert red[0][1] in ("rgba(204, 0, 0, 1)", "rgb(204, 0, 0)")
        driver.save_screenshot(str(tmp_path / "page.png"))
        shutil.copy(tmp_path / "page.png", "/tmp/assets_page.png")
    finally:
        driver.quit()
