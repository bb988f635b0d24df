#!/usr/bin/env python3
"""Measures how far replica B falls behind replica A under sustained writes (docs/scale-out.md).

Starts a throwaway PostgreSQL cluster (pg_cluster.sh), two `lakehost serve` replicas on it, and
`--writers` threads that POST `--batch`-document batches to A as fast as they can for
`--seconds`. A sampler reads both replicas' index counts every 50 ms; the A->B delay of a sample
(t, count on A) is the time until B's count reached it. Prints the delays (median, p95, max), the
write rate, and how long B needed after the writers stopped.

  tests/postgres/replica_lag.py --lakehost build/host/lakehost --plugin-dir build/plugins \
      --batch 5 --seconds 20

With --sql-burst N, no HTTP writer: N documents are inserted straight into PostgreSQL in
`--batch`-row transactions (as fast as the server commits them, as if from another replica),
and the time both replicas need to apply them gives the follower's throughput on its own.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def request(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def count(base):
    status, body = request("GET", base + "/v1/collections/lag")
    return json.loads(body)["count"] if status == 200 else None


def burst(args, conninfo, a, b):
    assert request("POST", a + "/v1/collections/lag/documents",
                   {"documents": [{"id": "seed", "text": "forklift operator"}]})[0] == 200
    n = args.sql_burst
    sql = f"""
DO $$
DECLARE v bytea; d integer;
BEGIN
  SELECT vector, dimension INTO v, d FROM lag.documents WHERE id = 'seed';
  FOR i IN 0..{n // args.batch - 1} LOOP
    INSERT INTO lag.documents (collection, id, text, metadata, vector, dimension)
      SELECT 'lag', 'sql-' || i || '-' || k, 'burst document ' || i || ' ' || k, '{{}}', v, d
      FROM generate_series(0, {args.batch - 1}) k;
    COMMIT;
  END LOOP;
END $$;"""
    target = (n // args.batch) * args.batch + 1
    start = time.monotonic()
    subprocess.run(["psql", "-X", "-q", conninfo, "-c", "SET synchronous_commit = off", "-c", sql],
                   check=True)
    written = time.monotonic() - start
    done = {}
    while len(done) < 2 and time.monotonic() - start < 300:
        for name, base in (("A", a), ("B", b)):
            if name not in done and (count(base) or 0) >= target:
                done[name] = time.monotonic() - start
        time.sleep(0.02)
    print(f"sql burst: {target - 1} documents in {args.batch}-row transactions, "
          f"committed in {written:.2f} s ({(target - 1) / written:.0f} docs/s)")
    for name in ("A", "B"):
        if name in done:
            print(f"replica {name} applied all after {done[name]:.2f} s "
                  f"({(target - 1) / done[name]:.0f} docs/s), "
                  f"{done[name] - written:.2f} s after the last commit")
        else:
            print(f"replica {name} did not apply them all within 300 s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lakehost", required=True)
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--writers", type=int, default=1)
    ap.add_argument("--sql-burst", type=int, default=0)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="lakehost-lag.")
    conninfo_file = os.path.join(work, "conninfo")
    script = os.path.join(HERE, "pg_cluster.sh")
    subprocess.run([script, "start", conninfo_file], check=True, stdout=subprocess.DEVNULL)
    hosts = []
    try:
        conninfo = open(conninfo_file).read().strip()
        manifests = os.path.join(work, "manifests")
        shutil.copytree(os.path.join(REPO, "manifests"), manifests,
                        ignore=shutil.ignore_patterns("examples"))
        sqlite = os.path.join(manifests, "storage-sqlite.json")
        m = json.load(open(sqlite))
        m["enabled"] = False
        json.dump(m, open(sqlite, "w"))
        json.dump({"id": "storage-postgres", "kind": "storage_backend",
                   "library": "storage-postgres.so", "enabled": True, "default": True,
                   "config": {"conninfo": conninfo, "schema": "lag"}},
                  open(os.path.join(manifests, "storage-postgres.json"), "w"))
        bases = []
        for name in ("a", "b"):
            data = os.path.join(work, "data-" + name)
            os.makedirs(data)
            port_file = os.path.join(work, "port-" + name)
            log = open(os.path.join(work, name + ".log"), "w")
            hosts.append(subprocess.Popen(
                [args.lakehost, "serve", "--listen", "127.0.0.1:0", "--manifests", manifests,
                 "--data", data, "--port-file", port_file, "--plugin-dir", args.plugin_dir,
                 "--no-watch"], stdout=log, stderr=subprocess.STDOUT))
            for _ in range(300):
                if os.path.exists(port_file) and open(port_file).read().strip():
                    break
                time.sleep(0.1)
            bases.append("http://127.0.0.1:" + open(port_file).read().strip())
        a, b = bases
        assert request("PUT", a + "/v1/collections/lag", {})[0] == 201
        while count(b) is None:
            time.sleep(0.05)

        if args.sql_burst:
            burst(args, conninfo, a, b)
            return
        stop = threading.Event()
        written = [0]
        lock = threading.Lock()

        def writer(w):
            n = 0
            while not stop.is_set():
                docs = [{"id": f"w{w}-{n}-{k}",
                         "text": f"lag writer {w} batch {n} document {k} forklift operator",
                         "metadata": {"w": w}} for k in range(args.batch)]
                status, body = request("POST", a + "/v1/collections/lag/documents",
                                       {"documents": docs})
                if status != 200:
                    print("write failed:", status, body[:200], file=sys.stderr)
                    continue
                with lock:
                    written[0] += args.batch
                n += 1

        samples_a, samples_b = [], []
        final = [None]  # A's count once every writer has finished

        def sampler():
            while final[0] is None or (samples_b[-1][1] or 0) < final[0]:
                now = time.monotonic()
                samples_a.append((now, count(a)))
                samples_b.append((time.monotonic(), count(b)))
                time.sleep(0.05)
                if time.monotonic() - start > args.seconds + 120:
                    break

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(args.writers)]
        start = time.monotonic()
        for t in threads:
            t.start()
        s = threading.Thread(target=sampler)
        s.start()
        metrics_lag = []
        while time.monotonic() - start < args.seconds:
            time.sleep(1)
            _, body = request("GET", b + "/metrics")
            for line in body.decode().splitlines():
                if line.startswith("lakehost_replica_lag_seconds "):
                    metrics_lag.append(float(line.split()[1]))
        stop.set()
        end = time.monotonic()
        for t in threads:
            t.join()
        final[0] = count(a)
        s.join()
        final = final[0]
        caught_up = None
        for t_b, c_b in samples_b:
            if c_b is not None and c_b >= final:
                caught_up = t_b - end
                break
        delays = []
        j = 0
        for t_a, c_a in samples_a:
            while j < len(samples_b) and (samples_b[j][1] or 0) < c_a:
                j += 1
            if j == len(samples_b):
                break
            delays.append(max(0.0, samples_b[j][0] - t_a))
        delays.sort()
        rate = final / (end - start)
        print(f"batch {args.batch}, {args.writers} writer(s), {end - start:.1f} s: "
              f"{final} documents on A ({rate:.0f} docs/s)")
        if delays:
            print(f"A->B delay: median {statistics.median(delays) * 1000:.0f} ms, "
                  f"p95 {delays[int(len(delays) * 0.95) - 1] * 1000:.0f} ms, "
                  f"max {delays[-1] * 1000:.0f} ms over {len(delays)} samples")
        print("B caught up " + (f"{caught_up:.2f} s after the writers stopped"
                                if caught_up is not None else "never (within the limit)"))
        if metrics_lag:
            print("B lakehost_replica_lag_seconds (1/s): max %.3f, last %.3f"
                  % (max(metrics_lag), metrics_lag[-1]))
    finally:
        for h in hosts:
            h.terminate()
            h.wait()
        subprocess.run([script, "stop", conninfo_file], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
