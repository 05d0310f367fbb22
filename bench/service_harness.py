"""The service under measurement, for the benchmarks and the soak in bench/:
`consensusd mock-kafka` and `consensusd serve` as child processes, serve's
Prometheus metrics read back (sums, histogram buckets and quantiles), its
memory from /proc.

    kafka = MockKafka(binary, "lat", partitions=4)
    serve = Serve(binary, kafka.brokers, "lat", "/tmp/state")
    before = histogram_buckets(metrics(serve.base), INGEST_LATENCY)
    ...  # answers arrive
    after = histogram_buckets(metrics(serve.base), INGEST_LATENCY)
    p99 = histogram_quantile(histogram_window(before, after), 0.99)
    serve.stop(); kafka.stop()

Ingest latency is SPEC 9's: consensusd_ingest_latency_seconds, from an answer's
event time (its Kafka timestamp when the message has no `ts`) to the commit of
the state it changed. A window of it is the growth of the histogram between two
scrapes.
"""
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

INGEST_LATENCY = "consensusd_ingest_latency_seconds"
ANSWERS_APPLIED = "consensusd_answers_applied_total"


def metrics(base):
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        return r.read().decode()


def metric_sum(text, name):
    """Sum of every sample of `name` in a Prometheus text scrape."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def histogram_buckets(text, name):
    """{le: cumulative count} of histogram `name` in a Prometheus text scrape."""
    buckets = {}
    for line in text.splitlines():
        m = re.match(name + r'_bucket\{.*le="([^"]+)".*\} (\S+)', line)
        if m:
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            buckets[le] = float(m.group(2))
    return buckets


def histogram_window(before, after):
    """The observations between two scrapes of one histogram."""
    return {le: after[le] - before.get(le, 0) for le in after}


def histogram_quantile(buckets, q):
    """q-quantile of cumulative buckets {le: count}, interpolated within a bucket."""
    buckets = sorted(buckets.items())
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    rank = q * buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_count) / max(count - prev_count, 1e-12)
        prev_le, prev_count = le, count
    return buckets[-1][0]


def fraction_within(buckets, le):
    """Fraction of a histogram's observations at most `le` (a bucket bound): exact,
    where a quantile is interpolated. nan when it is empty."""
    total = buckets.get(float("inf"), 0)
    return buckets[le] / total if total else float("nan")


def memory_mib(pid, field="VmRSS"):
    """A memory figure of /proc/<pid>/status in MiB (VmRSS: resident now,
    VmHWM: its peak); nan once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class MockKafka:
    """`consensusd mock-kafka`: an embedded broker on loopback with `topic` (and
    its output topics) of `partitions` partitions."""

    def __init__(self, binary, topic, partitions):
        self.proc = subprocess.Popen([binary, "mock-kafka", "--partitions", str(partitions), "--topic", topic],
                                     stdout=subprocess.PIPE, text=True)
        self.brokers = self.proc.stdout.readline().strip()
        if not self.brokers:
            sys.exit("mock-kafka did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


class Serve:
    """`consensusd serve` on `topic`, HTTP on an ephemeral port (self.base), its
    output topics named after the input topic, background sweeps every
    `sweep_interval_s` (None: the default). Returns once the group is joined."""

    def __init__(self, binary, brokers, topic, data_dir, extra=(), sweep_interval_s=3600, log=None):
        args = [binary, "serve", "--brokers", brokers, "--topic", topic, "--group", f"bench-{topic}",
                "--data-dir", data_dir, "--http", "127.0.0.1:0",
                "--set", f"kafka.consensus_topic={topic}.consensus", "--set", f"kafka.review_topic={topic}.review",
                "--set", f"kafka.dlq_topic={topic}.dlq"]
        if sweep_interval_s is not None:
            args += ["--set", f"model.sweep_interval_s={sweep_interval_s}"]
        self.proc = subprocess.Popen([*args, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        address = None
        for line in self.proc.stdout:
            if log:
                log.write(line)
            m = re.search(r"http: listening on (\S+)", line)
            if m:
                address = m.group(1)
                break
        if not address:
            sys.exit("serve did not start")

        def drain():
            for line in self.proc.stdout:
                if log:
                    log.write(line)
                    log.flush()

        threading.Thread(target=drain, daemon=True).start()
        self.base = f"http://{address}"
        self.started = time.time()
        # Joined: state restored and partitions assigned (the group join takes ~3 s on the
        # mock). /readyz turns 200 only once every partition has caught up; its body says
        # when the partitions are assigned.
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except urllib.error.HTTPError as e:
                body = json.loads(e.read() or b"{}")
                if body.get("partitions", {}).get("owned", 0) > 0:
                    break
            except Exception:
                pass
            time.sleep(0.05)
        self.ready = time.time()

    def stop(self):
        """SIGTERM; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


def wait_ready(base, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as r:
                if r.status == 200:
                    return time.time()
        except Exception:
            pass
        time.sleep(0.02)
    sys.exit("not ready in time")
