#!/usr/bin/python3
"""Drives Debian's headless Chromium against the live dashboard (SPEC 5.5).

Starts an embedded Kafka (consensusd mock-kafka), publishes two projects,
runs consensusd serve, then in the browser: picks a project, sorts the worker
table, opens a worker page, checks the heat-map cells against the API's
confusion matrix, excludes the worker with the admin token, and saves a
screenshot under the build directory.

usage: dashboard_browser_test.py CONSENSUSD_BINARY BUILD_DIR
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import websocket  # Debian: python3-websocket

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "browser-test-token"


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def wait_for(what, predicate, timeout=60.0, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # keep polling until the deadline
            last = e
        time.sleep(interval)
    fail(f"timed out waiting for {what} (last: {last!r})")


def http_json(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


class Browser:
    """A minimal Chrome DevTools Protocol client over one page target."""

    def __init__(self, profile_dir):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            fail("chromium is not installed: run deploy/install-deps.sh")
        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--window-size=1400,1000", f"--user-data-dir={profile_dir}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(profile_dir, "DevToolsActivePort")
        port = wait_for("chromium's DevTools port",
                        lambda: os.path.exists(port_file) and open(port_file).read().split("\n")[0])
        pages = wait_for("a page target", lambda: [t for t in http_json(f"http://127.0.0.1:{port}/json/list")
                                                   if t.get("type") == "page"])
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    fail(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            # Raised, not fatal: wait_for() retries (e.g. while the page is still loading).
            raise RuntimeError(f"page script failed: {expression}: {r['exceptionDetails']}")
        return r.get("result", {}).get("value")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(10)


def start(cmd, **kw):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    binary, build_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="consensusd-dashboard-")
    procs = []
    browser = None
    try:
        kafka = start([binary, "mock-kafka", "--partitions", "2", "--topic", "labels"])
        procs.append(kafka)
        brokers = kafka.stdout.readline().strip()
        if not re.match(r"^[\d.]+:\d+", brokers):
            fail(f"mock-kafka printed {brokers!r}, not an address")

        synth_dir = os.path.join(work, "synth")
        subprocess.run([binary, "synth", "--tasks", "400", "--workers", "25", "--classes", "3",
                        "--answers-per-task", "5", "--seed", "3", "--out", synth_dir], check=True)
        birds = os.path.join(SOURCE_DIR, "data", "bluebirds", "labels.csv")
        for project, path in (("birds", birds), ("synthetic", os.path.join(synth_dir, "labels.csv"))):
            subprocess.run([binary, "produce", "--brokers", brokers, "--topic", "labels",
                            "--project", project, path], check=True, stdout=subprocess.DEVNULL)

        env = dict(os.environ, CONSENSUSD_ADMIN_TOKEN=TOKEN)
        serve = start([binary, "serve", "--brokers", brokers, "--topic", "labels",
                       "--data-dir", os.path.join(work, "state"), "--http", "127.0.0.1:0",
                       "--set", "model.sweep_interval_s=1"], env=env)
        procs.append(serve)

        def listening():
            line = serve.stdout.readline()
            m = re.search(r"http: listening on (\S+)", line)
            return m and m.group(1)
        address = wait_for("serve's HTTP address", listening, timeout=60, interval=0)
        base = f"http://{address}"
        # Keep draining the log so that the service never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in serve.stdout], daemon=True).start()

        def projects_swept():
            ps = {p["project"]: p for p in http_json(f"{base}/v1/projects")["projects"]}
            return (ps.get("birds", {}).get("answers") == 4212 and "synthetic" in ps
                    and ps["synthetic"]["answers"] == 2000
                    and all(http_json(f"{base}/v1/projects/{n}")["last_sweep"]["answers"] == ps[n]["answers"]
                            for n in ("birds", "synthetic")))
        wait_for("both projects ingested and swept", projects_swept, timeout=120, interval=0.5)

        browser = Browser(os.path.join(work, "chromium"))
        browser.call("Page.enable")
        browser.call("Page.navigate", url=f"{base}/")
        wait_for("the dashboard to load", lambda: browser.eval("!!document.body && document.body.dataset.loaded === 'true'"))

        # Pick a project.
        options = browser.eval("[...document.querySelectorAll('#project-picker option')].map(o => o.value)")
        if sorted(options) != ["birds", "synthetic"]:
            fail(f"project picker offers {options}")
        browser.eval("""(() => { const p = document.getElementById('project-picker');
                        p.value = 'synthetic'; p.dispatchEvent(new Event('change')); })()""")
        wait_for("the synthetic project's headline",
                 lambda: browser.eval("document.getElementById('project-title').textContent") == "Project synthetic")
        stat = browser.eval("document.querySelector('#headline [data-stat=\"answers\"] .v').textContent")
        if stat.replace(",", "") != "2000":
            fail(f"headline shows {stat} answers, expected 2000")

        # Sort the worker table by accuracy (ascending), and check the order.
        browser.eval("document.querySelector('#workers-table th[data-sort=\"accuracy\"]').click()")
        api_order = [w["worker"] for w in http_json(
            f"{base}/v1/projects/synthetic/workers?sort=accuracy&order=asc&limit=200")["items"]]

        def sorted_rows():
            rows = browser.eval("[...document.querySelectorAll('#workers-table tbody tr')].map(r => r.dataset.worker)")
            return rows == api_order and rows
        rows = wait_for("the table sorted by accuracy", sorted_rows)
        accuracies = browser.eval(
            "[...document.querySelectorAll('#workers-table tbody tr')].map(r => parseFloat(r.children[2].textContent))")
        if accuracies != sorted(accuracies):
            fail(f"accuracy column is not ascending: {accuracies}")

        # Open the least accurate worker's page.
        worker = rows[0]
        browser.eval("document.querySelector('#workers-table tbody tr').click()")
        wait_for("the worker page", lambda: browser.eval(
            "document.getElementById('worker-name').textContent") == worker)
        cells = wait_for("the heat map", lambda: browser.eval(
            "[...document.querySelectorAll('#confusion td.cell')].map(td => [td.dataset.true, td.dataset.answered, parseFloat(td.dataset.value), getComputedStyle(td).backgroundColor])"))
        view = http_json(f"{base}/v1/projects/synthetic/workers/{urllib.request.quote(worker, safe='')}")
        classes = view["classes"]
        if len(cells) != len(classes) ** 2:
            fail(f"heat map has {len(cells)} cells for {len(classes)} classes")
        for true, answered, value, _ in cells:
            expected = view["confusion_matrix"][classes.index(true)][classes.index(answered)]
            if abs(value - expected) > 1e-9:
                fail(f"heat map cell {true}->{answered} is {value}, API says {expected}")
        colours = {c[3] for c in cells}
        if len(colours) < 2:
            fail("heat map cells all have the same colour")

        # Exclude the worker through the dashboard's admin button.
        browser.eval(f"""(() => {{ const t = document.getElementById('admin-token'); t.value = {json.dumps(TOKEN)};
                         t.dispatchEvent(new Event('input')); }})()""")
        wait_for("the admin buttons", lambda: browser.eval(
            "!document.getElementById('worker-admin').classList.contains('hidden')"))
        browser.eval("document.getElementById('exclude-btn').click()")
        wait_for("the exclusion to take effect", lambda: http_json(
            f"{base}/v1/projects/synthetic/workers/{urllib.request.quote(worker, safe='')}")["excluded"] is True)

        shot = browser.call("Page.captureScreenshot", format="png")
        path = os.path.join(build_dir, "dashboard.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(f"ok: picked a project, sorted {len(rows)} workers, checked {len(cells)} heat-map cells, "
              f"excluded {worker}; screenshot {path}")
    finally:
        if browser:
            browser.close()
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
