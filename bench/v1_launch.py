#!/usr/bin/env python3
"""bench-launch's framework on the v1 Scheduler HTTP API (--api v1): launches
N command tasks (`true`, cpus:0.1;mem:16) as offers allow and prints the same
JSON line as the C++ SDK's run:

    {"mode":..., "tasks":N, "tasks_per_s":X, "p50_ms":Y, "p99_ms":Z, "failed":F, ...}

tasks_per_s: tasks finished per second from SUBSCRIBED to the last terminal
update; latency: from the ACCEPT to TASK_RUNNING.
"""
import argparse
import getpass
import http.client
import json
import sys
import time

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--master", required=True)
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--in-flight", type=int, default=0)
    ap.add_argument("--mode", default="processes-v1")
    a = ap.parse_args()
    host, port = a.master.rsplit(":", 1)
    stream = http.client.HTTPConnection(host, int(port), timeout=600)
    calls = http.client.HTTPConnection(host, int(port), timeout=60)
    info = {"user": getpass.getuser(), "name": "bench-launch-v1", "roles": ["*"]}
    stream.request("POST", "/api/v1/scheduler",
                   json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}),
                   {"Content-Type": "application/json"})
    resp = stream.getresponse()
    sid = resp.getheader("Mesos-Stream-Id")
    fid = None

    def call(type_, **fields):
        calls.request("POST", "/api/v1/scheduler",
                      json.dumps(dict(fields, type=type_, framework_id={"value": fid})),
                      {"Content-Type": "application/json", "Mesos-Stream-Id": sid})
        r = calls.getresponse()
        r.read()
        if r.status != 202:
            sys.exit("bench-v1: %s answered %d" % (type_, r.status))

    launched = finished = failed = 0
    accepted, latencies = {}, []
    start = end = time.time()
    while finished + failed < a.tasks:
        line = resp.readline()
        if not line:
            sys.exit("bench-v1: the stream ended")
        e = json.loads(resp.read(int(line)))
        if e["type"] == "SUBSCRIBED":
            fid = e["subscribed"]["framework_id"]["value"]
            start = time.time()
        elif e["type"] == "OFFERS":
            for o in e["offers"]["offers"]:
                res = {r["name"]: r["scalar"]["value"] for r in o["resources"] if "scalar" in r}
                cpus, mem, infos = res.get("cpus", 0), res.get("mem", 0), []
                while cpus >= 0.1 and mem >= 16 and launched < a.tasks and (
                        a.in_flight == 0 or launched - finished - failed < a.in_flight):
                    tid = "v1-%d" % launched
                    launched += 1
                    cpus, mem = cpus - 0.1, mem - 16
                    infos.append({"name": tid, "task_id": {"value": tid},
                                  "agent_id": o["agent_id"], "command": {"value": "true"},
                                  "resources": [
                                      {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                                      {"name": "mem", "type": "SCALAR", "scalar": {"value": 16}}]})
                    accepted[tid] = time.time()
                ops = [{"type": "LAUNCH", "launch": {"task_infos": infos}}] if infos else []
                call("ACCEPT", accept={"offer_ids": [o["id"]], "operations": ops,
                                       "filters": {"refuse_seconds": 0 if infos else 1}})
        elif e["type"] == "UPDATE":
            st = e["update"]["status"]
            tid, state = st["task_id"]["value"], st["state"]
            if state == "TASK_RUNNING" and tid in accepted:
                latencies.append((time.time() - accepted.pop(tid)) * 1000)
            elif state in TERMINAL:
                if state == "TASK_FINISHED":
                    finished += 1
                else:
                    failed += 1
                if a.in_flight:
                    call("REVIVE")
            if "uuid" in st:
                call("ACKNOWLEDGE", acknowledge={"agent_id": st["agent_id"],
                                                 "task_id": st["task_id"], "uuid": st["uuid"]})
            end = time.time()
    call("TEARDOWN")
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * (len(latencies) - 1) + 0.5))] \
            if latencies else 0.0
    print(json.dumps({"mode": a.mode, "tasks": a.tasks,
                      "tasks_per_s": round(finished / max(end - start, 1e-9), 1),
                      "p50_ms": round(pct(0.5), 3), "p99_ms": round(pct(0.99), 3),
                      "failed": failed, "in_flight": a.in_flight}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
