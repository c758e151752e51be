"""A small DevTools-protocol client for headless Chromium, standard library only.

The browser tests drive the reports with it (viewport, scroll, click, layout
checks, screenshots); ``python tests/_chromium.py PAGE OUT_DIR`` takes the
1400 x 900 screenshots (top, scrolled, one cell expanded) and prints how long
the page took to load and render.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
         "--hide-scrollbars=false"]


class Browser:
    """One headless Chromium with one page, spoken to over the DevTools protocol."""

    def __init__(self, width: int = 1400, height: int = 900) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (Debian: apt-get install -y chromium)")
        self._tmp = tempfile.TemporaryDirectory(prefix="tfcanary-chromium-")
        profile = Path(self._tmp.name)
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                                      "--remote-debugging-port=0", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        page = next(t for t in targets if t["type"] == "page")
        self._connect(page["webSocketDebuggerUrl"])
        self._id = 0
        self.events: list = []
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    # --- a minimal WebSocket (RFC 6455) client ------------------------------------------------
    def _connect(self, url: str) -> None:
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            resp += self.sock.recv(4096)
        head, self._buf = resp.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"DevTools refused the WebSocket: {head[:200]!r}")

    def _send(self, data: bytes) -> None:
        head = bytearray([0x81])
        n = len(data)
        if n < 126:
            head.append(0x80 | n)
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
        self.sock.sendall(bytes(head) + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("chromium closed the DevTools connection")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _recv(self) -> Dict[str, Any]:
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            if (b0 & 0x0F) == 8:
                raise ConnectionError("chromium closed the DevTools connection")
            if (b0 & 0x0F) in (9, 10):
                continue
            msg += payload
            if b0 & 0x80:
                return json.loads(msg)

    # --- the protocol -----------------------------------------------------------------------
    def call(self, method: str, **params: Any) -> Dict[str, Any]:
        self._id += 1
        self._send(json.dumps({"id": self._id, "method": method, "params": params}).encode())
        while True:
            m = self._recv()
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, event: str) -> Dict[str, Any]:
        for i, m in enumerate(self.events):
            if m.get("method") == event:
                return self.events.pop(i)
        while True:
            m = self._recv()
            if m.get("method") == event:
                return m
            self.events.append(m)

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (promises awaited); its value, as JSON."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def open(self, url: str) -> float:
        """Load ``url``; returns seconds from the navigation to the first frame painted after the
        page's script finished (its load event, then two animation frames)."""
        # A URL that differs only in its #fragment would be a same-document navigation, with
        # no load event: start from a blank page each time.
        self.call("Page.navigate", url="about:blank")
        self.wait_for("Page.loadEventFired")
        self.events.clear()
        t0 = time.perf_counter()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        return time.perf_counter() - t0

    def screenshot(self, path: os.PathLike) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        try:
            self.sock.close()
        except AttributeError:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._tmp.cleanup()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def main(page: str, out_dir: str, repeat: int = 5) -> None:
    """Screenshots at 1400 x 900 (top, scrolled, a cell expanded) and load-and-render times."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = Path(page).resolve().as_uri()
    with Browser() as b:
        times = [b.open(url) for _ in range(repeat)]
        nav = b.js("(() => { const t = performance.getEntriesByType('navigation')[0];"
                   " return {dcl: t.domContentLoadedEventEnd, load: t.loadEventEnd}; })()")
        size = Path(page).stat().st_size
        print(f"{page}: {size / 1024:.0f} KiB; load+render {', '.join(f'{t:.3f}' for t in times)} s; "
              f"last navigation timing: DOMContentLoaded {nav['dcl']:.0f} ms, load {nav['load']:.0f} ms")
        print("overflow px:", b.js("document.documentElement.scrollWidth - window.innerWidth"))
        stem = Path(page).stem
        b.screenshot(out / f"{stem}-top.png")
        b.js("window.scrollTo(0, document.body.scrollHeight * 0.35)")
        b.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        b.screenshot(out / f"{stem}-scrolled.png")
        b.open(url)
        if b.js("!!document.querySelector('#matrix')"):
            b.js("(() => { const td = document.querySelector('#matrix tr[data-changes=\"1\"] td.c.H')"
                 " || document.querySelector('#matrix td.c'); td.scrollIntoView({block: 'center'});"
                 " td.click(); window.scrollBy(0, -120); })()")
        else:
            b.js("(() => { const d = document.querySelector('details'); if (d) { d.open = true;"
                 " d.scrollIntoView(); } })()")
        b.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        b.screenshot(out / f"{stem}-expanded.png")
        print("screenshots:", *sorted(str(p) for p in out.glob(f"{stem}-*.png")))


if __name__ == "__main__":
    main(*sys.argv[1:3])
