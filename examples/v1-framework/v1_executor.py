#!/usr/bin/env python3
"""An executor in Python's standard library alone, on Mesos' v1 Executor
HTTP API (as caldera's agent serves it, and Mesos' does). The agent starts it
with MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID and
MESOS_EXECUTOR_AUTHENTICATION_TOKEN in its environment.

Each task's `data` is a shell command it runs: TASK_RUNNING, then
TASK_FINISHED or TASK_FAILED by its exit status; KILL ends it (TASK_KILLED).
Updates are kept until ACKNOWLEDGED; when the stream ends (the agent
restarts) it subscribes again with what is unacknowledged, within
MESOS_RECOVERY_TIMEOUT.
"""
import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time

ENV = os.environ
HOST, PORT = ENV["MESOS_AGENT_ENDPOINT"].rsplit(":", 1)
IDS = {"framework_id": {"value": ENV["MESOS_FRAMEWORK_ID"]},
       "executor_id": {"value": ENV["MESOS_EXECUTOR_ID"]}}
HEADERS = {"Content-Type": "application/json",
           "Authorization": "Bearer " + ENV.get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "")}
lock = threading.Lock()
tasks = {}      # task id -> TaskInfo, until its terminal update is acknowledged
running = {}    # task id -> Popen
unacked = {}    # uuid (base64) -> Update
shutdown = threading.Event()
stopping = []   # when SHUTDOWN came


def call(type_, **fields):
    conn = http.client.HTTPConnection(HOST, int(PORT), timeout=10)
    conn.request("POST", "/api/v1/executor", json.dumps(dict(IDS, type=type_, **fields)), HEADERS)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


def update(task_id, state, message=""):
    uuid = base64.b64encode(os.urandom(16)).decode()
    status = {"task_id": {"value": task_id}, "state": state, "source": "SOURCE_EXECUTOR",
              "uuid": uuid, "message": message, "executor_id": IDS["executor_id"],
              "timestamp": time.time()}
    with lock:
        unacked[uuid] = {"framework_id": IDS["framework_id"], "status": status}
    try:
        call("UPDATE", update={"status": status})
    except OSError:
        pass  # the agent is away: sent again with the next SUBSCRIBE


def run(task):
    tid = task["task_id"]["value"]
    command = base64.b64decode(task.get("data", "")).decode() or "true"
    proc = subprocess.Popen(["/bin/sh", "-c", command])
    with lock:
        running[tid] = proc
    update(tid, "TASK_RUNNING")
    rc = proc.wait()
    with lock:
        killed = running.pop(tid, None) is None
    if killed:
        update(tid, "TASK_KILLED")
    else:
        update(tid, "TASK_FINISHED" if rc == 0 else "TASK_FAILED", "exited with status %d" % rc)


def on_event(event):
    kind = event["type"]
    if kind == "LAUNCH":
        task = event["launch"]["task"]
        with lock:
            tasks[task["task_id"]["value"]] = task
        threading.Thread(target=run, args=(task,), daemon=True).start()
    elif kind == "KILL":
        with lock:
            proc = running.pop(event["kill"]["task_id"]["value"], None)
        if proc:
            proc.terminate()
    elif kind == "ACKNOWLEDGED":
        with lock:
            u = unacked.pop(event["acknowledged"]["uuid"], None)
            if u and u["status"]["state"] not in ("TASK_RUNNING", "TASK_STARTING"):
                tasks.pop(u["status"]["task_id"]["value"], None)
    elif kind == "SHUTDOWN":  # kill every task, exit once their updates are acknowledged
        with lock:
            procs = list(running.values())
            running.clear()
        for proc in procs:
            proc.terminate()
        stopping.append(time.time())
    elif kind == "ERROR":
        print("v1-executor: error:", event["error"]["message"], file=sys.stderr, flush=True)


def subscribe_once():
    """One subscription until its stream ends; False when none was made."""
    with lock:
        sub = {"unacknowledged_tasks": list(tasks.values()),
               "unacknowledged_updates": list(unacked.values())}
    conn = http.client.HTTPConnection(HOST, int(PORT), timeout=None)
    conn.request("POST", "/api/v1/executor", json.dumps(dict(IDS, type="SUBSCRIBE", subscribe=sub)),
                 HEADERS)
    resp = conn.getresponse()
    if resp.status != 200:
        return False
    while not shutdown.is_set():
        line = resp.readline()
        if not line:
            break
        on_event(json.loads(resp.read(int(line))))
        with lock:
            done = not tasks
        if stopping and (done or time.time() - stopping[0] > 3):
            shutdown.set()
    return True


def main():
    timeout = 15 * 60  # MESOS_RECOVERY_TIMEOUT's default
    lost_since = time.time()
    while not shutdown.is_set() and time.time() - lost_since < timeout:
        try:
            if subscribe_once():
                lost_since = time.time()
        except OSError:
            pass
        if not shutdown.is_set():
            time.sleep(0.5)  # MESOS_SUBSCRIPTION_BACKOFF_MAX's order
    return 0


if __name__ == "__main__":
    sys.exit(main())
