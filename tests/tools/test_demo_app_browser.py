"""tools/demo_app.py in a real browser: headless Chromium opens the page, waits
for the first example's moments and takes a screenshot.

Not part of the default run: set ``SGDETR_BROWSER_TESTS=1`` (needs gradio and
Chromium, e.g. ``apt-get install chromium``); ``SGDETR_SCREENSHOT=path.png``
keeps the screenshot.
"""
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
BROWSERS = ('chromium', 'chromium-browser', 'google-chrome')
pytestmark = pytest.mark.skipif(os.environ.get('SGDETR_BROWSER_TESTS') != '1',
                                reason='browser test: set SGDETR_BROWSER_TESTS=1')


def _load(name, path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class DevTools:
    """The few Chrome DevTools Protocol calls the test needs, over a websocket."""

    def __init__(self, websocket_url):
        from websockets.sync.client import connect
        self.socket = connect(websocket_url, max_size=64 * 2**20)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps(dict(id=self.next_id, method=method, params=params)))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get('id') == self.next_id:
                if 'error' in message:
                    raise RuntimeError(message['error'])
                return message['result']

    def text(self) -> str:
        result = self.call('Runtime.evaluate', expression='document.body.innerText')
        return result['result'].get('value', '')


def screenshot(url, path, wait_for, timeout=120.0, size=(1400, 1250)):
    """Open ``url`` in headless Chromium, wait until the page shows ``wait_for``,
    write a PNG screenshot to ``path``; returns the page text."""
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip('no Chromium (apt-get install chromium)')
    port = free_port()
    profile = tempfile.mkdtemp(prefix='sgdetr-chromium-')
    process = subprocess.Popen([
        browser, '--headless', '--no-sandbox', '--disable-gpu',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-first-run', '--hide-scrollbars', f'--user-data-dir={profile}',
        # only the local server is reachable from the page
        '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
        f'--remote-debugging-port={port}', '--remote-allow-origins=*',
        f'--window-size={size[0]},{size[1]}', 'about:blank'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f'http://127.0.0.1:{port}/json') as response:
                    pages = [p for p in json.load(response) if p.get('type') == 'page']
                if pages:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError('Chromium did not start')
            time.sleep(0.3)
        tools = DevTools(pages[0]['webSocketDebuggerUrl'])
        tools.call('Page.enable')
        tools.call('Page.navigate', url=url)
        deadline = time.time() + timeout
        while wait_for not in tools.text():
            if time.time() > deadline:
                raise AssertionError(f'the page never showed {wait_for!r}:\n{tools.text()}')
            time.sleep(0.5)
        time.sleep(1.0)  # let the figure finish drawing
        import base64
        shot = tools.call('Page.captureScreenshot', format='png')
        Path(path).write_bytes(base64.b64decode(shot['data']))
        return tools.text()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def test_demo_page_in_headless_chromium(tmp_path_factory):
    pytest.importorskip('gradio')
    pytest.importorskip('websockets')
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    assets = _load('sgdetr_assets', REPO / 'tests' / 'apis' / 'sgdetr_assets.py')
    demo_app = _load('demo_app_tool', REPO / 'tools' / 'demo_app.py')
    base = tmp_path_factory.getbasetemp() / 'sgdetr_assets'
    root = assets.synthetic_root(base, 256)
    backend = demo_app.make_backend(demo_app.parse_args(
        ['--data-root', root, '--checkpoint', assets.demo_checkpoint(base)]))
    app = demo_app.build_app(backend)
    port = free_port()
    demo_app.launch(app, '127.0.0.1', port, prevent_thread_lock=True, quiet=True)
    path = os.environ.get('SGDETR_SCREENSHOT') or str(tmp_path_factory.mktemp('shot') /
                                                      'demo_page.png')
    try:
        text = screenshot(f'http://127.0.0.1:{port}/', path, wait_for=' clips, ')
    finally:
        app.close()
    assert 'SG-DETR: moments and highlights' in text and 'Find moments' in text
    assert 'ground truth' in text  # the example's annotated windows are drawn
    assert Path(path).read_bytes()[:4] == b'\x89PNG'
