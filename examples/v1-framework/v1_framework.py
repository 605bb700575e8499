#!/usr/bin/env python3
"""A framework in Python's standard library alone, on Mesos' v1 Scheduler
HTTP API as caldera serves it (and as Mesos does): subscribe, take offers,
launch command tasks, acknowledge their updates, tear down.

    v1_framework.py --master 127.0.0.1:5080 [--tasks 3] [--role '*']

MASTER is the master's HTTP endpoint (its --http-port). Exits 0 when every
task finished, 1 otherwise.
"""
import argparse
import getpass
import base64
import http.client
import json
import sys


class Scheduler:
    def __init__(self, master):
        self.host, port = master.rsplit(":", 1)
        self.port = int(port)
        self.calls = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.framework_id = None
        self.stream_id = None

    def subscribe(self, name, role, framework_id=None):
        """Opens the event stream; returns its response (records follow)."""
        info = {"user": getpass.getuser(), "name": name, "roles": [role],
                "capabilities": [{"type": "MULTI_ROLE"}], "failover_timeout": 60}
        if framework_id:
            info["id"] = {"value": framework_id}
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.request("POST", "/api/v1/scheduler", json.dumps(body),
                     {"Content-Type": "application/json", "Accept": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            sys.exit("subscribe: %d %s" % (resp.status, resp.read().decode()))
        self.stream_id = resp.getheader("Mesos-Stream-Id")
        return resp

    @staticmethod
    def events(resp):
        """Yields the stream's events (RecordIO: a length, a newline, JSON)."""
        while True:
            line = resp.readline()
            if not line:
                return
            yield json.loads(resp.read(int(line)))

    def call(self, type_, **fields):
        body = dict(fields, type=type_, framework_id={"value": self.framework_id})
        self.calls.request("POST", "/api/v1/scheduler", json.dumps(body),
                           {"Content-Type": "application/json",
                            "Mesos-Stream-Id": self.stream_id})
        resp = self.calls.getresponse()
        text = resp.read().decode()
        if resp.status != 202:
            raise RuntimeError("%s: %d %s" % (type_, resp.status, text))


def scalar(resources, name):
    return sum(r["scalar"]["value"] for r in resources if r["name"] == name)


def launch(s, offer, pending, cpus=0.1, mem=32):
    """Launches what fits of `pending` (task names) on `offer`."""
    tasks = []
    have_cpus, have_mem = scalar(offer["resources"], "cpus"), scalar(offer["resources"], "mem")
    role = offer.get("allocation_info", {}).get("role", "*")
    while pending and have_cpus >= cpus and have_mem >= mem:
        name = pending.pop(0)
        tasks.append({
            "name": name, "task_id": {"value": name}, "agent_id": offer["agent_id"],
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus},
                 "allocation_info": {"role": role}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": mem},
                 "allocation_info": {"role": role}}],
            "command": {"value": "echo hello from %s on $(hostname)" % name}})
        have_cpus, have_mem = have_cpus - cpus, have_mem - mem
    ops = [{"type": "LAUNCH", "launch": {"task_infos": tasks}}] if tasks else []
    s.call("ACCEPT", accept={"offer_ids": [offer["id"]], "operations": ops,
                             "filters": {"refuse_seconds": 5}})
    return len(tasks)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--master", default="127.0.0.1:5080")
    ap.add_argument("--tasks", type=int, default=3)
    ap.add_argument("--role", default="*")
    args = ap.parse_args()
    s = Scheduler(args.master)
    pending = ["v1-task-%d" % i for i in range(args.tasks)]
    done = {}
    for event in s.events(s.subscribe("v1-python-example", args.role)):
        kind = event["type"]
        if kind == "SUBSCRIBED":
            s.framework_id = event["subscribed"]["framework_id"]["value"]
            print("subscribed as", s.framework_id, flush=True)
        elif kind == "OFFERS":
            for offer in event["offers"]["offers"]:
                n = launch(s, offer, pending)
                if n:
                    print("launched", n, "on", offer["hostname"], flush=True)
        elif kind == "UPDATE":
            st = event["update"]["status"]
            task = st["task_id"]["value"]
            print(task, st["state"], st.get("message", ""), flush=True)
            if "uuid" in st:  # acknowledged, or the agent sends it again
                s.call("ACKNOWLEDGE", acknowledge={
                    "agent_id": st["agent_id"], "task_id": st["task_id"], "uuid": st["uuid"]})
            if st["state"] in ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST",
                               "TASK_ERROR", "TASK_DROPPED"):
                done[task] = st["state"]
            if len(done) == args.tasks:
                s.call("TEARDOWN")
                break
        elif kind == "ERROR":
            sys.exit("error: " + event["error"]["message"])
    ok = all(state == "TASK_FINISHED" for state in done.values()) and len(done) == args.tasks
    print("all finished" if ok else "not all finished: %s" % done, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
