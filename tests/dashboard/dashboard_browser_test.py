#!/usr/bin/python3
"""Drives Debian's headless Chromium against the live dashboard (SPEC 5.5).

Starts an embedded Kafka (consensusd mock-kafka), publishes two categorical
projects, a pairwise one and a rating one (SPEC 3.1a), runs consensusd serve,
then in the browser:
- categorical: picks a project, sorts the worker table, opens a worker page,
  checks the heat-map cells against the API's confusion matrix, excludes the
  worker with the admin token;
- pairwise: checks the leaderboard rows and their order, that each interval
  bar spans low..high on one common axis, the tied groups' marking, the rater
  rows with the careless flag, a task's consensus, that hostile item and
  rater names show as text, and excludes the careless rater;
- rating: checks the rater rows (bias, noise) and a task's consensus rating;
and saves screenshots under the build directory.

usage: dashboard_browser_test.py CONSENSUSD_BINARY BUILD_DIR
"""
import base64
import json
import math
import os
import random
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
# Names come from user input: the page must show them as text, never as markup.
HOSTILE_ITEM = '<script>window.pwned = 1</script> & "co"'
HOSTILE_RATER = "<img src=x onerror='window.pwned = 2'>&amp;r"


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



def quote(name):
    return urllib.request.quote(name, safe="")


def pick_project(browser, project):
    browser.eval(f"""(() => {{ const p = document.getElementById('project-picker');
                    p.value = {json.dumps(project)}; p.dispatchEvent(new Event('change')); }})()""")
    wait_for(f"the {project} project's headline",
             lambda: browser.eval("document.getElementById('project-title').textContent") == f"Project {project}")


def screenshot(browser, build_dir, name):
    shot = browser.call("Page.captureScreenshot", format="png")
    path = os.path.join(build_dir, name)
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    return path


def pairwise_votes(seed=7):
    """Votes of a pairwise project with three clearly separated tiers of items.

    Careful raters answer by Davidson's Bradley-Terry with ties; r-careless
    answers at random, with well over the 20 votes a careless flag needs.
    """
    rng = random.Random(seed)
    scores = {"model-a": 2.0, "model-b": 1.9, HOSTILE_ITEM: 0.1, "model-d": 0.0, "model-e": -0.1,
              "model-f": -2.0, "model-g": -2.1}
    items = list(scores)
    raters = [f"r-{i:02d}" for i in range(10)] + [HOSTILE_RATER, "r-careless"]
    messages = []
    for t in range(800):
        left, right = rng.sample(items, 2)
        for worker in rng.sample(raters, 2):
            if worker == "r-careless":
                label = rng.choice(["left", "right", "tie"])
            else:
                d = scores[left] - scores[right]
                weights = [math.exp(d / 2), math.exp(-d / 2), 0.5]
                label = rng.choices(["left", "right", "tie"], weights)[0]
            messages.append({"project": "prefs", "task": f"cmp-{t}", "worker": worker,
                             "left": left, "right": right, "label": label})
    return messages


def rating_votes(seed=11):
    """Ratings on 1..7 from raters with known offsets (r-harsh -1, r-kind +1)."""
    rng = random.Random(seed)
    bias = {"r-harsh": -1.0, "r-kind": 1.0, "r-1": 0.0, "r-2": 0.0, "r-3": 0.0, "r-4": 0.0}
    messages = []
    for t in range(60):
        truth = rng.uniform(2, 6)
        for worker in rng.sample(list(bias), 4):
            rating = min(7, max(1, round(truth + bias[worker] + rng.gauss(0, 0.4))))
            messages.append({"project": "evals", "task": f"t-{t}", "worker": worker, "rating": rating})
    return messages


def check_categorical(browser, base):
    pick_project(browser, "synthetic")
    stat = browser.eval("document.querySelector('#headline [data-stat=\"answers\"] .v').textContent")
    if stat.replace(",", "") != "2000":
        fail(f"headline shows {stat} answers, expected 2000")
    if not browser.eval("document.getElementById('vote-page').classList.contains('hidden')"):
        fail("a categorical project shows the pairwise/rating page")

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
    view = http_json(f"{base}/v1/projects/synthetic/workers/{quote(worker)}")
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
        f"{base}/v1/projects/synthetic/workers/{quote(worker)}")["excluded"] is True)
    return f"sorted {len(rows)} workers, checked {len(cells)} heat-map cells, excluded {worker}"


def check_no_markup_from_names(browser):
    if browser.eval("window.pwned !== undefined"):
        fail("a hostile name ran as script")
    if browser.eval("document.querySelectorAll('main script, main img').length"):
        fail("a hostile name became markup")


def show_task(browser, task):
    browser.eval(f"""(() => {{ document.getElementById('vote-task-input').value = {json.dumps(task)};
                    document.getElementById('vote-task-form').requestSubmit(); }})()""")
    wait_for(f"task {task}", lambda: browser.eval(
        "(document.querySelector('#vote-task h3') || {}).textContent") == task)
    return browser.eval("""Object.fromEntries([...document.querySelectorAll('#vote-task [data-stat]')]
                           .map(d => [d.dataset.stat, d.querySelector('b').textContent]))""")


def check_pairwise(browser, base, build_dir):
    pick_project(browser, "prefs")
    board = http_json(f"{base}/v1/projects/prefs/leaderboard")
    raters = http_json(f"{base}/v1/projects/prefs/raters")["raters"]
    items = board["items"]
    if not browser.eval("document.getElementById('categorical-page').classList.contains('hidden')"):
        fail("a pairwise project shows the categorical worker table")

    # The leaderboard: the API's items, best first, with rank and tied group.
    rows = wait_for("the leaderboard", lambda: browser.eval(
        """(() => { const rows = [...document.querySelectorAll('#leaderboard tbody tr')];
                    return rows.length && rows.map(r => [r.dataset.item, r.querySelector('td.item').textContent,
                        +r.dataset.rank, +r.dataset.tiedGroup, r.children[0].textContent]); })()"""))
    expected = [[i["item"], i["item"], i["rank"], i["tied_group"], str(i["rank"])] for i in items]
    if rows != expected:
        fail(f"leaderboard rows {rows}, API says {expected}")
    scores = [i["score"] for i in items]
    if scores != sorted(scores, reverse=True) or [i["item"] for i in items[:2]] != ["model-a", "model-b"] \
            or [i["item"] for i in items[-2:]] != ["model-f", "model-g"]:
        fail(f"the test data should rank model-a, model-b first and model-f, model-g last: {items}")

    # Interval bars: one common linear axis maps every low and high to the bar's edges.
    bars = browser.eval(
        """[...document.querySelectorAll('#leaderboard tbody tr')].map(r => {
             const b = r.querySelector('rect.interval').getBoundingClientRect();
             const c = r.querySelector('circle.score').getBoundingClientRect();
             return [b.left, b.right, (c.left + c.right) / 2]; })""")
    lo = min(range(len(items)), key=lambda n: items[n]["low"])
    hi = max(range(len(items)), key=lambda n: items[n]["high"])
    px_per_unit = (bars[hi][1] - bars[lo][0]) / (items[hi]["high"] - items[lo]["low"])
    if px_per_unit < 20:
        fail(f"the interval axis is {px_per_unit:.1f} px per score unit: bars too small to read")

    def x(v):
        return bars[lo][0] + (v - items[lo]["low"]) * px_per_unit
    for item, (left, right, dot) in zip(items, bars):
        if abs(left - x(item["low"])) > 1.5 or abs(right - x(item["high"])) > 1.5 or abs(dot - x(item["score"])) > 1.5:
            fail(f"{item['item']}: bar {left:.1f}..{right:.1f} px, dot {dot:.1f}, expected "
                 f"{x(item['low']):.1f}..{x(item['high']):.1f}, dot {x(item['score']):.1f} for {item}")

    # Tied groups: a badge per item, "tied" when the group has several items,
    # and each group's rows shaded apart from the neighbouring groups'.
    sizes = {}
    for i in items:
        sizes[i["tied_group"]] = sizes.get(i["tied_group"], 0) + 1
    if len(sizes) < 2 or max(sizes.values()) < 2:
        fail(f"the test data should give several tied groups, one of several items: {sizes}")
    marks = browser.eval(
        """[...document.querySelectorAll('#leaderboard tbody tr')].map(r => [
             r.lastElementChild.textContent, getComputedStyle(r.children[1]).backgroundColor])""")
    for n, (item, (badge, shade)) in enumerate(zip(items, marks)):
        tied = sizes[item["tied_group"]] > 1
        if ("tied" in badge) != tied or not badge.startswith(str(item["tied_group"])):
            fail(f"{item['item']} in group {item['tied_group']} of {sizes[item['tied_group']]} has badge {badge!r}")
        if n > 0 and (shade == marks[n - 1][1]) != (item["tied_group"] == items[n - 1]["tied_group"]):
            fail(f"rows {n - 1} and {n} are shaded {marks[n - 1][1]} and {shade}: tied groups not told apart")

    # Raters: the API's rows, with the careless flag.
    by_name = {r["worker"]: r for r in raters}
    if not by_name["r-careless"]["careless"] or by_name[HOSTILE_RATER]["careless"]:
        fail(f"the test data should make r-careless (only) careless: {raters}")
    shown = wait_for("the raters table", lambda: browser.eval(
        """[...document.querySelectorAll('#raters-table tbody tr')].map(r => [r.dataset.rater,
             r.children[0].textContent, r.dataset.careless, r.querySelector('td.flag') ? r.querySelector('td.flag').textContent : '',
             parseFloat(r.children[2].textContent), parseFloat(r.children[3].textContent)])"""))
    if [r[0] for r in shown] != [r["worker"] for r in raters]:
        fail(f"rater rows {[r[0] for r in shown]}, API says {[r['worker'] for r in raters]}")
    for worker, name, careless, flag, reliability, bias in shown:
        r = by_name[worker]
        if name != worker or careless != str(r["careless"]).lower() or ("careless" in flag) != r["careless"]:
            fail(f"rater row {[worker, name, careless, flag]} for {r}")
        if abs(reliability - r["reliability"]) > 5e-4 or abs(bias - r["position_bias"]) > 5e-4:
            fail(f"rater {worker} shows reliability {reliability}, position bias {bias}, API says {r}")

    # One comparison's consensus.
    task = http_json(f"{base}/v1/projects/prefs/tasks/cmp-3")
    stats = show_task(browser, "cmp-3")
    if stats.get("consensus") != task["consensus"] or abs(float(stats["P(left)"]) - task["p_left"]) > 5e-4:
        fail(f"task view shows {stats}, API says {task}")

    # Hostile names are text.
    check_no_markup_from_names(browser)
    html = browser.eval("""[...document.querySelectorAll('#leaderboard td.item')].map(td => td.innerHTML)
                           .find(h => h.includes('script'))""")
    if html != '&lt;script&gt;window.pwned = 1&lt;/script&gt; &amp; "co"':
        fail(f"the hostile item's cell holds {html!r}")

    screenshot(browser, build_dir, "dashboard-pairwise.png")
    # Exclude the careless rater with the admin buttons (the token is still set).
    browser.eval("""[...document.querySelectorAll('#raters-table tbody tr')].find(r => r.dataset.rater === 'r-careless')
                    .querySelector('button').click()""")
    wait_for("the careless rater's exclusion", lambda: {r["worker"]: r for r in http_json(
        f"{base}/v1/projects/prefs/raters")["raters"]}["r-careless"]["excluded"])
    wait_for("the excluded rater on the page", lambda: browser.eval(
        """[...document.querySelectorAll('#raters-table tbody tr')].some(r =>
             r.dataset.rater === 'r-careless' && r.dataset.excluded === 'true')"""))
    careless = sum(1 for r in raters if r["careless"])
    return f"{len(items)} leaderboard rows in {len(sizes)} tied groups, {len(raters)} raters ({careless} careless)"


def check_rating(browser, base):
    pick_project(browser, "evals")
    raters = http_json(f"{base}/v1/projects/evals/raters")["raters"]
    if not browser.eval("document.getElementById('leaderboard-card').classList.contains('hidden')"):
        fail("a rating project shows a leaderboard")
    by_name = {r["worker"]: r for r in raters}
    if not by_name["r-harsh"]["bias"] < 0 < by_name["r-kind"]["bias"]:
        fail(f"the test data should give r-harsh a negative bias and r-kind a positive one: {raters}")
    shown = wait_for("the rating raters table", lambda: browser.eval(
        """(() => { const rows = [...document.querySelectorAll('#raters-table tbody tr')];
                    return rows.length && rows.map(r => [r.dataset.rater, r.children[0].textContent,
                        ...[...r.children].slice(1, 4).map(td => parseFloat(td.textContent))]); })()"""))
    expected = [[r["worker"], r["worker"], r["ratings"], r["bias"], r["noise_sd"]] for r in raters]
    if len(shown) != len(expected) or any(s[:3] != e[:3] or abs(s[3] - e[3]) > 5e-4 or abs(s[4] - e[4]) > 5e-4
                                          for s, e in zip(shown, expected)):
        fail(f"rating raters {shown}, API says {expected}")
    headers = browser.eval("[...document.querySelectorAll('#raters-table thead th')].map(th => th.textContent)")
    if headers[:4] != ["rater", "ratings", "bias", "noise sd"]:
        fail(f"rating raters table has columns {headers}")

    # Sort by bias, descending after a second click: r-kind first, r-harsh last.
    browser.eval("document.querySelector('#raters-table th[data-sort=\"bias\"]').click()")
    browser.eval("document.querySelector('#raters-table th[data-sort=\"bias\"]').click()")
    order = browser.eval("[...document.querySelectorAll('#raters-table tbody tr')].map(r => r.dataset.rater)")
    if order != [r["worker"] for r in sorted(raters, key=lambda r: -r["bias"])]:
        fail(f"raters sorted by bias, descending: {order}")

    task = http_json(f"{base}/v1/projects/evals/tasks/t-5")
    stats = show_task(browser, "t-5")
    if abs(float(stats["consensus rating"]) - task["rating"]) > 5e-4 or abs(float(stats["sd"]) - task["sd"]) > 5e-4:
        fail(f"task view shows {stats}, API says {task}")
    return f"{len(raters)} raters"


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
        votes, ratings = pairwise_votes(), rating_votes()
        votes_path = os.path.join(work, "votes.jsonl")
        with open(votes_path, "w") as f:
            f.writelines(json.dumps(m) + "\n" for m in votes + ratings)
        subprocess.run([binary, "produce", "--brokers", brokers, "--topic", "labels", votes_path],
                       check=True, stdout=subprocess.DEVNULL)

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
                            for n in ("birds", "synthetic"))
                    and (http_json(f"{base}/v1/projects/prefs/raters")["last_sweep"] or {}).get("votes") == len(votes)
                    and (http_json(f"{base}/v1/projects/evals/raters")["last_sweep"] or {}).get("votes") == len(ratings))
        wait_for("all projects ingested and swept", projects_swept, timeout=120, interval=0.5)

        browser = Browser(os.path.join(work, "chromium"))
        browser.call("Page.enable")
        browser.call("Page.navigate", url=f"{base}/")
        wait_for("the dashboard to load", lambda: browser.eval("!!document.body && document.body.dataset.loaded === 'true'"))

        options = browser.eval("[...document.querySelectorAll('#project-picker option')].map(o => o.value)")
        if sorted(options) != ["birds", "evals", "prefs", "synthetic"]:
            fail(f"project picker offers {options}")

        categorical = check_categorical(browser, base)
        path = screenshot(browser, build_dir, "dashboard.png")
        pairwise = check_pairwise(browser, base, build_dir)
        rating = check_rating(browser, base)
        screenshot(browser, build_dir, "dashboard-rating.png")
        print(f"ok: categorical: {categorical}; pairwise: {pairwise}; rating: {rating}; "
              f"screenshots {path}, dashboard-pairwise.png, dashboard-rating.png")
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
