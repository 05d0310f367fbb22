#!/usr/bin/python3
"""Scale-out benchmark (SPEC sections 8 and 9): answers per second with one and
with two `consensusd serve` instances in one consumer group, on a real
single-node Apache Kafka broker (deploy/kafka/kafka.sh) on this machine, next to
a bare librdkafka consumer (kcat -C) reading the same topic.

N answers (default 1M; 200k tasks x 5, 1,000 workers, K=4), one Kafka message
per answer as platforms send them, keyed by task, in topics of P partitions
(default 12). Every run starts its instances in a new consumer group, with
empty data directories and default settings, in one of two modes:

  cold  the topic already holds the N answers; timed from the start of the
        first process to the last commit: what the issue asks for, and what an
        operator sees when starting instances on a backlog. Group formation is
        in the time, and with several instances, whatever partitions the group
        moves after the first assignment (the broker of kafka.sh forms a group
        at once, group.initial.rebalance.delay.ms=0) are rebuilt by their new
        owner from the beginning.
  live  the instances start on an empty topic and wait until the group has
        settled; then `consensusd produce` writes the N answers at full speed;
        timed from the start of produce to the last commit: the steady state,
        with the producer on the same cores.

The last commit is the moment after which every partition's committed offset is
at its end and nothing changes any more. Committed offsets are read from the
broker (Kafka's OffsetFetch request) every 20 ms; `serve` commits them to Kafka
right after the RocksDB write holding the state and the offsets, so a
committed offset means applied and committed. Runs alternate (1, 2, 1, 2, ...)
so that drift of the machine's load falls on both. CPU times come from /proc.

The broker, the instances, the producer and kcat share the machine's cores: on
the 2-core development machine two instances do not get twice the CPU of one.

usage: scale_bench.py CONSENSUSD_BINARY [--answers N] [--partitions P]
           [--instances 1,2] [--modes cold,live] [--rounds R] [--keep]
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

from service_harness import ANSWERS_APPLIED, memory_mib, metric_sum, metrics

HERE = os.path.dirname(os.path.abspath(__file__))
KAFKA_SH = os.path.join(HERE, "..", "deploy", "kafka", "kafka.sh")
OUTPUT_TOPICS = ("labels.consensus", "labels.review", "labels.dlq")  # serve's defaults
TICK = os.sysconf("SC_CLK_TCK")


# --- Kafka wire protocol: the few requests the bench needs -----------------------------

class KafkaWire:
    """Topic creation (CreateTopics v2), end offsets (ListOffsets v1), the group
    coordinator (FindCoordinator v1) and a group's committed offsets
    (OffsetFetch v1), over one connection to a single-node broker, which is
    also the group coordinator. Kafka 4 accepts these versions (it dropped
    older ones, KIP-896)."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.correlation = 0

    def close(self):
        self.sock.close()

    @staticmethod
    def _string(s):
        b = s.encode()
        return struct.pack(">h", len(b)) + b

    def _request(self, api_key, version, body):
        self.correlation += 1
        msg = struct.pack(">hhi", api_key, version, self.correlation) + self._string("scale_bench") + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", self._recv(4))[0]
        response = self._recv(size)
        if struct.unpack(">i", response[:4])[0] != self.correlation:
            raise RuntimeError("Kafka response out of order")
        return Reader(response, 4)

    def _recv(self, n):
        chunks = []
        while n > 0:
            chunk = self.sock.recv(n)
            if not chunk:
                raise EOFError("the broker closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _partitions(self, topic, partitions, per_partition=b""):
        return (struct.pack(">i", 1) + self._string(topic) + struct.pack(">i", len(partitions)) +
                b"".join(struct.pack(">i", p) + per_partition for p in partitions))

    def create_topics(self, topics):
        """topics: [(name, partitions, {config: value})]; one replica each."""
        body = struct.pack(">i", len(topics))
        for name, partitions, configs in topics:
            body += self._string(name) + struct.pack(">ihi", partitions, 1, 0) + struct.pack(">i", len(configs))
            body += b"".join(self._string(k) + self._string(v) for k, v in configs.items())
        r = self._request(19, 2, body + struct.pack(">i?", 30000, False))
        r.i32()  # throttle time
        for _ in range(r.i32()):
            name, err, message = r.string(), r.i16(), r.string()
            if err not in (0, 36):  # 36: the topic exists
                raise RuntimeError(f"creating topic {name}: Kafka error {err} ({message})")

    def end_offsets(self, topic, partitions):
        """{partition: end offset}."""
        r = self._request(2, 1, struct.pack(">i", -1) + self._partitions(topic, partitions, struct.pack(">q", -1)))
        out = {}
        for _ in range(r.i32()):
            r.string()
            for _ in range(r.i32()):
                p, err, _, offset = r.i32(), r.i16(), r.i64(), r.i64()
                if err:
                    raise RuntimeError(f"ListOffsets {topic}[{p}]: Kafka error {err}")
                out[p] = offset
        return out

    def coordinator_ready(self, group):
        """The group coordinator answers (the broker creates __consumer_offsets
        on the first FindCoordinator)."""
        r = self._request(10, 1, self._string(group) + struct.pack(">b", 0))
        r.i32()  # throttle time
        return r.i16() == 0

    def committed(self, group, topic, partitions):
        """{partition: committed offset, -1 if none}; None while the coordinator loads."""
        r = self._request(9, 1, self._string(group) + self._partitions(topic, partitions))
        out = {}
        for _ in range(r.i32()):
            r.string()
            for _ in range(r.i32()):
                p, offset = r.i32(), r.i64()
                r.string()  # metadata
                if r.i16():
                    return None
                out[p] = offset
        return out


class Reader:
    def __init__(self, data, offset):
        self.data, self.off = data, offset

    def _take(self, fmt, n):
        v = struct.unpack(fmt, self.data[self.off:self.off + n])[0]
        self.off += n
        return v

    def i16(self):
        return self._take(">h", 2)

    def i32(self):
        return self._take(">i", 4)

    def i64(self):
        return self._take(">q", 8)

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.data[self.off:self.off + n].decode()
        self.off += n
        return s


# --- the machine ---------------------------------------------------------------------------

def cpu_seconds(pid):
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_cpu(pid):
    """[busiest own thread, librdkafka's threads, the other threads] CPU seconds
    of a process: librdkafka names its threads rdk:*, consensusd's are unnamed."""
    own, rdkafka = [], 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return [0.0, 0.0, 0.0]
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        seconds = (int(fields[11]) + int(fields[12])) / TICK
        if head.split("(", 1)[1].startswith("rdk:"):
            rdkafka += seconds
        else:
            own.append(seconds)
    busiest = max(own, default=0.0)
    return [busiest, rdkafka, sum(own) - busiest]


def machine_jiffies():
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Snapshot:
    """CPU counters at one moment: instances (total and by thread group), broker,
    producer, machine."""

    def __init__(self, instances, broker_pid, producer_pid=None):
        self.serve = [cpu_seconds(i.proc.pid) for i in instances]
        self.threads = [thread_cpu(i.proc.pid) for i in instances]
        self.broker = cpu_seconds(broker_pid)
        self.producer = cpu_seconds(producer_pid) if producer_pid else 0.0
        self.busy, self.total = machine_jiffies()

    @staticmethod
    def zero(count, broker_pid):
        s = Snapshot([], broker_pid)
        s.serve, s.threads = [0.0] * count, [[0.0, 0.0, 0.0]] * count
        return s


# --- processes -------------------------------------------------------------------------------

def kafka_sh(*args):
    out = subprocess.run(["bash", KAFKA_SH, *args], stdout=subprocess.PIPE, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


class Instance:
    """One `consensusd serve` with default settings, its own data directory and
    a free HTTP port; its log is read for the address and the assignments."""

    ASSIGNED = re.compile(r"consumer: assigned \S+\[(\d+)\]")

    def __init__(self, binary, brokers, topic, group, data_dir, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--brokers", brokers, "--topic", topic, "--group", group,
             "--data-dir", data_dir, "--http", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.base = None
        self.assigned = []  # (arrival time, partition)
        self.queue_full = 0
        self.has_address = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self):
        for line in self.proc.stdout:
            now = time.time()
            self.log.write(line)
            m = re.search(r"http: listening on (\S+)", line)
            if m:
                self.base = f"http://{m.group(1)}"
                self.has_address.set()
            m = self.ASSIGNED.search(line)
            if m:
                self.assigned.append((now, int(m.group(1))))
            if "producer's queue is full" in line:
                self.queue_full += 1
        self.log.close()

    def applied(self):
        if self.base is None:
            return 0.0
        return metric_sum(metrics(self.base), ANSWERS_APPLIED)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def produce(binary, brokers, topic, csv, log_path):
    """`consensusd produce` of the CSV, one message per answer; its messages go to log_path."""
    with open(log_path, "w") as log:
        return subprocess.Popen([binary, "produce", "--brokers", brokers, "--topic", topic,
                                 "--property", "compression.type=lz4", csv], stdout=log, stderr=log)


def kcat_read(brokers, topic):
    """Seconds for kcat -C to read the whole topic, and the lines it printed."""
    t = time.time()
    kcat = subprocess.Popen(["kcat", "-C", "-b", brokers, "-t", topic, "-e", "-q", "-o", "beginning"],
                            stdout=subprocess.PIPE)
    wc = subprocess.run(["wc", "-l"], stdin=kcat.stdout, stdout=subprocess.PIPE, text=True, check=True)
    kcat.stdout.close()
    if kcat.wait() != 0:
        sys.exit("kcat -C failed")
    return time.time() - t, int(wc.stdout.split()[0])


# --- one run -------------------------------------------------------------------------------

def run(b, mode, count, rnd):
    """Starts `count` instances in a new group and times them to the last commit."""
    label = f"{mode}-n{count}-r{rnd}"
    topic = "scale" if mode == "cold" else f"live-n{count}-r{rnd}"
    partitions = list(range(b.partitions))
    before = Snapshot.zero(count, b.broker_pid)
    started = time.time()
    instances = [Instance(b.binary, b.brokers, topic, label, f"{b.work}/{label}-i{i}",
                          f"{b.work}/{label}-i{i}.log") for i in range(count)]
    producer = None

    def last_assignment():
        return max((t for inst in instances for t, _ in inst.assigned), default=time.time())

    def settled():  # every instance got partitions (else a late member would take some over)
        return all(inst.assigned for inst in instances[:b.partitions])

    try:
        for inst in instances:
            if not inst.has_address.wait(60):
                sys.exit(f"{label}: serve did not start (logs in {b.work})")
        t0 = started
        if mode == "live":
            # Wait for the group: every instance assigned and no assignment for 2 s.
            while not (settled() and time.time() - last_assignment() >= 2.0):
                if time.time() - started > b.timeout:
                    sys.exit(f"{label}: the group did not settle in {b.timeout}s (logs in {b.work})")
                time.sleep(0.05)
            before = Snapshot(instances, b.broker_pid)
            t0 = time.time()
            producer = produce(b.binary, b.brokers, topic, b.csv, f"{b.work}/{label}-produce.log")
        last, last_change, at_change = None, t0, None
        applied, next_scrape = 0.0, 0.0
        while True:
            now = time.time()
            if now - t0 > b.timeout:
                sys.exit(f"{label}: timed out after {b.timeout}s: {applied:.0f} answers applied (logs in {b.work})")
            committed = b.wire.committed(label, topic, partitions) or {}
            committed_total = sum(max(0, committed.get(p, -1)) for p in partitions)
            if now >= next_scrape:  # /metrics costs the instances a little CPU: 4 times a second
                applied = sum(inst.applied() for inst in instances)
                next_scrape = now + 0.25
            if (committed_total, applied) != last:
                last, last_change = (committed_total, applied), now
                at_change = Snapshot(instances, b.broker_pid, producer.pid if producer else None)
            quiet = now - max(last_change, last_assignment())
            if committed_total == b.answers and applied >= b.answers and quiet >= b.quiet and settled():
                break
            time.sleep(0.02)
        if producer and producer.wait() != 0:
            sys.exit(f"{label}: produce failed (log in {b.work}/{label}-produce.log)")
        after = at_change
        wall = last_change - t0
        owner = {}
        for i, inst in enumerate(instances):
            for t, p in inst.assigned:
                if p not in owner or t >= owner[p][0]:
                    owner[p] = (t, i)
        busy_cores = (after.busy - before.busy) / (after.total - before.total) * os.cpu_count()
        serve_cpu = [a - z for a, z in zip(after.serve, before.serve)]
        threads = [[a - z for a, z in zip(ta, tz)] for ta, tz in zip(after.threads, before.threads)]
        broker_cpu = after.broker - before.broker
        times = [t - t0 for inst in instances for t, _ in inst.assigned]
        applied_each = [inst.applied() for inst in instances]
        return {
            "mode": mode, "instances": count, "label": label, "wall": wall, "rate": b.answers / wall,
            "first_assigned": min(times), "last_assigned": max(times),
            "assignments": len(times), "applied": applied_each, "moved": sum(applied_each) - b.answers,
            "owned": [sum(1 for _, i in owner.values() if i == k) for k in range(count)],
            "serve_cpu": serve_cpu, "threads": threads, "broker_cpu": broker_cpu,
            "producer_cpu": after.producer, "busy_cores": busy_cores,
            # CPU of everything else on the machine during the run: other jobs, this script.
            "other_cpu": busy_cores * wall - sum(serve_cpu) - broker_cpu - after.producer,
            "load": load_average(),
            "rss": [memory_mib(inst.proc.pid, "VmHWM") for inst in instances],
            "queue_full": sum(inst.queue_full for inst in instances),
        }
    finally:
        if producer and producer.poll() is None:
            producer.kill()
            producer.wait()
        for inst in instances:
            inst.stop()


def describe(r, kcat_rate):
    since = "process start" if r["mode"] == "cold" else "produce start"
    print(f"  {r['label']}: {since} to last commit {r['wall']:.2f}s -> {r['rate']:,.0f} answers/s "
          f"({r['rate'] / kcat_rate:.2f} of kcat); partitions assigned at {r['first_assigned']:.2f}s"
          + (f" to {r['last_assigned']:.2f}s" if r["last_assigned"] > r["first_assigned"] + 0.01 else "")
          + f" ({r['assignments']} assignments); answers applied twice (partitions moved): {r['moved']:,.0f}")
    for k, (a, o, c, t, m) in enumerate(zip(r["applied"], r["owned"], r["serve_cpu"], r["threads"], r["rss"])):
        print(f"      instance {k}: {a / 1e3:,.0f}k answers, {o} partitions at the end, CPU {c:.2f}s (busiest thread "
              f"{t[0]:.2f}s, librdkafka {t[1]:.2f}s, other threads {t[2]:.2f}s), peak RSS {m:.0f} MiB")
    print(f"      CPU: broker {r['broker_cpu']:.2f}s"
          + (f", produce {r['producer_cpu']:.2f}s" if r["mode"] == "live" else "")
          + f", other processes {max(0.0, r['other_cpu']):.2f}s; machine busy {r['busy_cores']:.2f} of "
          f"{os.cpu_count()} cores; load {r['load']:.1f}"
          + (f"; output queue full {r['queue_full']}x" if r["queue_full"] else ""))


def summarize(results, kcat_rates, answers, rounds):
    kcat = statistics.median(kcat_rates)
    print(f"\nsummary: medians of {rounds} run(s); kcat -C {kcat:,.0f} answers/s "
          f"(runs {', '.join(f'{x / 1e3:,.0f}k' for x in sorted(kcat_rates))})")
    for mode, by_count in results.items():
        since = "process start" if mode == "cold" else "produce start, group settled"
        print(f"  {mode} ({since} to last commit):")
        base = best = None
        for count, runs in by_count.items():
            rates = sorted(r["rate"] for r in runs)
            med = statistics.median(rates)
            base = base or med
            best = best or rates[-1]
            per_m = 1e6 / answers

            def cpu(f):
                return statistics.median(f(r) for r in runs) * per_m

            print(f"    {count} instance(s): {med:,.0f} answers/s (runs {', '.join(f'{x / 1e3:,.0f}k' for x in rates)}),"
                  f" {med / base:.2f}x one instance, {med / kcat:.2f} of kcat; fastest run {rates[-1]:,.0f} answers/s"
                  f" ({rates[-1] / best:.2f}x one instance's fastest); CPU per 1M answers: serve "
                  f"{cpu(lambda r: sum(r['serve_cpu'])):.2f}s (an instance's busiest thread "
                  f"{cpu(lambda r: max(t[0] for t in r['threads'])):.2f}s), broker {cpu(lambda r: r['broker_cpu']):.2f}s"
                  + (f", produce {cpu(lambda r: r['producer_cpu']):.2f}s" if mode == "live" else "")
                  + f", other processes {cpu(lambda r: max(0.0, r['other_cpu'])):.2f}s;"
                  f" answers applied twice {statistics.median(r['moved'] for r in runs):,.0f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--answers", type=int, default=1_000_000, help="answers, one Kafka message each")
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--instances", default="1,2", help="instance counts, comma-separated")
    ap.add_argument("--modes", default="cold,live", help="cold, live or both (see above)")
    ap.add_argument("--rounds", type=int, default=3, help="runs per mode and instance count, alternating")
    ap.add_argument("--quiet", type=float, default=1.0,
                    help="seconds without a change that mark the end of a run (not counted)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, state, broker)")
    b = ap.parse_args()
    b.binary = os.path.abspath(b.binary)
    counts = [int(c) for c in b.instances.split(",")]
    modes = b.modes.split(",")
    if not set(modes) <= {"cold", "live"}:
        sys.exit("--modes takes cold, live or cold,live")
    for tool in ("java", "kcat"):
        if shutil.which(tool) is None:
            sys.exit(f"scale_bench: '{tool}' not found; install it with deploy/install-deps.sh")

    b.work = tempfile.mkdtemp(prefix="consensusd-scale-")
    kafka_dir = f"{b.work}/kafka"
    b.wire = None
    try:
        jars = kafka_sh("fetch")
        t = time.time()
        b.brokers = kafka_sh("start", "--dir", kafka_dir, "--fresh")
        with open(f"{kafka_dir}/kafka.pid") as f:
            b.broker_pid = int(f.read())
        print(f"broker: Apache Kafka {os.path.basename(os.path.dirname(jars))} (deploy/kafka/kafka.sh), single node "
              f"(KRaft), at {b.brokers}, started in {time.time() - t:.1f}s")
        b.wire = KafkaWire(b.brokers)
        live = [f"live-n{c}-r{r}" for r in range(1, b.rounds + 1) for c in counts] if "live" in modes else []
        b.wire.create_topics([(name, b.partitions, {}) for name in ["scale", *live]] +
                             [(name, b.partitions, {"cleanup.policy": "compact"} if name.endswith(".consensus")
                               else {}) for name in OUTPUT_TOPICS])
        # Partitions have leaders and the group coordinator runs (its first start,
        # a second or so, would otherwise fall on the first run).
        deadline = time.time() + 60
        while True:
            try:
                b.wire.end_offsets("scale", list(range(b.partitions)))
                if b.wire.coordinator_ready("warmup") and \
                        b.wire.committed("warmup", "scale", list(range(b.partitions))) is not None:
                    break
            except RuntimeError:
                pass
            if time.time() > deadline:
                sys.exit("the broker's topics or group coordinator were not ready within 60s")
            time.sleep(0.2)

        tasks = b.answers // 5
        b.answers = tasks * 5
        subprocess.run([b.binary, "synth", "--tasks", str(tasks), "--workers", "1000", "--classes", "4",
                        "--answers-per-task", "5", "--seed", "1", "--out", f"{b.work}/synth"], check=True,
                       stdout=subprocess.DEVNULL)
        b.csv = f"{b.work}/synth/labels.csv"
        t = time.time()
        if produce(b.binary, b.brokers, "scale", b.csv, f"{b.work}/produce.log").wait() != 0:
            with open(f"{b.work}/produce.log") as f:
                sys.exit(f"produce failed: {f.read()}")
        produce_s = time.time() - t
        ends = b.wire.end_offsets("scale", list(range(b.partitions)))
        if sum(ends.values()) != b.answers:
            sys.exit(f"the topic holds {sum(ends.values())} messages, not {b.answers}")
        print(f"data: {b.answers:,} answers ({tasks:,} tasks x 5, 1,000 workers, K=4), one message each, keyed by task, "
              f"lz4, {b.partitions} partitions ({min(ends.values()):,}-{max(ends.values()):,} each); "
              f"produced in {produce_s:.2f}s")
        print(f"machine: {os.cpu_count()} cores (nproc), shared by the broker, the instances, the producer and this "
              f"script; load {load_average():.1f} before the runs")

        results = {m: {c: [] for c in counts} for m in modes}
        kcat_rates = []
        for rnd in range(1, b.rounds + 1):
            kcat_s, lines = kcat_read(b.brokers, "scale")
            if lines != b.answers:
                sys.exit(f"kcat read {lines} lines, not {b.answers}")
            kcat_rates.append(b.answers / kcat_s)
            print(f"round {rnd}: kcat -C -e (bare librdkafka consumer, no group): {kcat_s:.2f}s -> "
                  f"{kcat_rates[-1]:,.0f} answers/s")
            for mode in modes:
                for c in counts:
                    r = run(b, mode, c, rnd)
                    results[mode][c].append(r)
                    describe(r, kcat_rates[-1])
        summarize(results, kcat_rates, b.answers, b.rounds)
    finally:
        if b.wire:
            b.wire.close()
        subprocess.run(["bash", KAFKA_SH, "stop", "--dir", kafka_dir], stderr=subprocess.DEVNULL)
        if b.keep:
            print(f"kept {b.work}")
        else:
            shutil.rmtree(b.work, ignore_errors=True)


if __name__ == "__main__":
    main()
