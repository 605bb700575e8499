#!/usr/bin/env python3
"""Drives caldera's v1 Scheduler HTTP API as a framework in another language
would (issue 18's process test; run by tests/process/v1_api_test.cpp):

    v1_scenarios.py --master HOST:HTTP_PORT [SCENARIO ...]

Prints "PASS name" per scenario; exits 1 with the reason on the first
failure. Every wait is bounded and ends on the awaited event.
"""
import argparse
import getpass
import base64
import http.client
import json
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE", "TASK_UNKNOWN"}


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


class Framework:
    """One subscription: its events on a queue, its calls on their own connection."""

    def __init__(self, master, name="v1-test", framework_id=None, role="*"):
        self.host, port = master.rsplit(":", 1)
        self.port = int(port)
        self.events = queue.Queue()
        self.calls = http.client.HTTPConnection(self.host, self.port, timeout=30)
        info = {"user": getpass.getuser(), "name": name, "roles": [role], "failover_timeout": 300,
                "capabilities": [{"type": "MULTI_ROLE"}], "id": None, "unknown_field": 1}
        if framework_id:
            info["id"] = {"value": framework_id}
        body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}})
        self.stream = http.client.HTTPConnection(self.host, self.port, timeout=120)
        # No Accept header: JSON, as Mesos answers.
        self.stream.request("POST", "/api/v1/scheduler", body,
                            {"Content-Type": "application/json"})
        resp = self.stream.getresponse()
        check(resp.status == 200, "SUBSCRIBE answered %d" % resp.status)
        check(resp.getheader("Transfer-Encoding") == "chunked", "the stream is not chunked")
        self.stream_id = resp.getheader("Mesos-Stream-Id")
        check(self.stream_id, "no Mesos-Stream-Id")
        threading.Thread(target=self._read, args=(resp,), daemon=True).start()
        sub = self.wait("SUBSCRIBED")
        self.id = sub["subscribed"]["framework_id"]["value"]
        check(sub["subscribed"]["heartbeat_interval_seconds"] > 0, "no heartbeat interval")

    def _read(self, resp):
        try:
            while True:
                line = resp.readline()
                if not line:
                    break
                self.events.put(json.loads(resp.read(int(line))))
        except Exception:  # the stream was closed under us
            pass
        self.events.put({"type": "_END"})

    def wait(self, kind, pred=lambda e: True, timeout=30):
        """The next event of `kind` that satisfies `pred` (others are skipped)."""
        until = time.time() + timeout
        while time.time() < until:
            try:
                e = self.events.get(timeout=max(0.01, until - time.time()))
            except queue.Empty:
                break
            if e["type"] == "ERROR" and kind != "ERROR":
                raise Failed("ERROR event: " + e["error"]["message"])
            if e["type"] == kind and pred(e):
                return e
            if e["type"] == "_END" and kind != "_END":
                raise Failed("the stream ended waiting for " + kind)
            if e["type"] == "UPDATE":  # acknowledge what we skip
                self.ack(e["update"]["status"])
        raise Failed("no %s within %ds" % (kind, timeout))

    def call(self, type_, expect=202, headers=None, **fields):
        body = dict(fields, type=type_, framework_id={"value": self.id})
        h = {"Content-Type": "application/json", "Mesos-Stream-Id": self.stream_id}
        h.update(headers or {})
        self.calls.request("POST", "/api/v1/scheduler", json.dumps(body), h)
        resp = self.calls.getresponse()
        text = resp.read().decode()
        check(resp.status == expect, "%s answered %d (want %d): %s"
              % (type_, resp.status, expect, text))
        return text

    def ack(self, st):
        if "uuid" in st:
            self.call("ACKNOWLEDGE", acknowledge={
                "agent_id": st["agent_id"], "task_id": st["task_id"], "uuid": st["uuid"]})

    def update(self, task, states, timeout=30):
        """Waits for `task`'s update in `states`; acknowledges it."""
        e = self.wait("UPDATE", lambda e: e["update"]["status"]["task_id"]["value"] == task
                      and e["update"]["status"]["state"] in states, timeout)
        st = e["update"]["status"]
        self.ack(st)
        return st

    def offer(self, timeout=30):
        return self.wait("OFFERS", timeout=timeout)["offers"]["offers"][0]

    def launch(self, offer, task, command, cpus=0.1, mem=16, refuse=1, executor=None,
               executor_id="py-exec"):
        role = offer.get("allocation_info", {}).get("role", "*")
        res = [{"name": n, "type": "SCALAR", "scalar": {"value": v},
                "allocation_info": {"role": role}} for n, v in (("cpus", cpus), ("mem", mem))]
        info = {"name": task, "task_id": {"value": task}, "agent_id": offer["agent_id"],
                "resources": res, "command": {"value": command}}
        if executor:  # the command goes to the executor as the task's data
            del info["command"]
            info["data"] = base64.b64encode(command.encode()).decode()
            info["executor"] = {"executor_id": {"value": executor_id}, "type": "CUSTOM",
                                "command": {"value": "exec python3 " + executor},
                                "resources": res}
        self.call("ACCEPT", accept={
            "offer_ids": [offer["id"]], "filters": {"refuse_seconds": refuse},
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [info]}}]})

    def close(self):
        self.stream.close()


def command_tasks(master, **_):
    f = Framework(master)
    f.launch(f.offer(), "ok", "echo hello")
    st = f.update("ok", TERMINAL)
    check(st["state"] == "TASK_FINISHED", "ok ended " + st["state"])
    check(st.get("exit_code") == 0, "no exit code 0: %s" % st)
    f.launch(f.offer(), "bad", "exit 3")
    st = f.update("bad", TERMINAL)
    check(st["state"] == "TASK_FAILED" and st.get("exit_code") == 3, "bad: %s" % st)
    check("3" in st.get("message", ""), "the message does not say 3: %s" % st)
    f.call("TEARDOWN")
    f.wait("_END")


def decline_filter(master, **_):
    f = Framework(master)
    o = f.offer()
    f.call("DECLINE", decline={"offer_ids": [o["id"]], "filters": {"refuse_seconds": 3600}})
    try:  # the only agent is filtered: no offer while it holds
        f.wait("OFFERS", timeout=3)
        raise Failed("re-offered within the filter")
    except Failed as e:
        if "re-offered" in str(e):
            raise
    f.call("REVIVE")  # clears the filter
    check(f.offer()["agent_id"] == o["agent_id"], "revive brought no offer of the agent")
    f.call("TEARDOWN")


def kill_and_reconcile(master, **_):
    f = Framework(master)
    o = f.offer()
    f.launch(o, "sleeper", "sleep 300")
    f.update("sleeper", {"TASK_RUNNING"})
    f.call("RECONCILE", reconcile={"tasks": [{"task_id": {"value": "sleeper"},
                                              "agent_id": o["agent_id"]}]})
    st = f.update("sleeper", {"TASK_RUNNING"})
    check(st.get("reason") == "REASON_RECONCILIATION", "explicit: %s" % st)
    f.call("RECONCILE", reconcile={"tasks": []})  # implicit: every task
    f.update("sleeper", {"TASK_RUNNING"})
    f.call("RECONCILE", reconcile={"tasks": [{"task_id": {"value": "no-such-task"}}]})
    f.update("no-such-task", {"TASK_LOST", "TASK_UNKNOWN"})
    f.call("KILL", kill={"task_id": {"value": "sleeper"}, "agent_id": o["agent_id"]})
    f.update("sleeper", {"TASK_KILLED"})
    f.call("TEARDOWN")


def failover(master, **_):
    f = Framework(master)
    o = f.offer()
    f.launch(o, "kept", "sleep 300")
    f.update("kept", {"TASK_RUNNING"})
    f.close()  # the stream ends: disconnected, tasks kept for failover_timeout
    g = Framework(master, framework_id=f.id)
    check(g.id == f.id, "re-subscribed as another framework")
    g.call("RECONCILE", reconcile={"tasks": []})
    g.update("kept", {"TASK_RUNNING"})
    # The old stream's id no longer works.
    g.call("REVIVE", expect=403, headers={"Mesos-Stream-Id": f.stream_id})
    # A second subscriber takes the framework over: the first stream ends.
    h = Framework(master, framework_id=f.id)
    check("failed over" in g.wait("ERROR")["error"]["message"], "no failover error")
    g.wait("_END")
    h.call("TEARDOWN")  # every task killed, the stream ends
    h.wait("_END")
    url = "http://%s:%d/master/state" % (g.host, g.port)
    until = time.time() + 10  # until the next published snapshot shows it
    while time.time() < until:
        state = json.load(urllib.request.urlopen(url, timeout=10))
        if all(fw["id"] != g.id for fw in state["frameworks"]):
            check(any(fw["id"] == g.id for fw in state["completed_frameworks"]),
                  "not among the completed frameworks")
            return
        time.sleep(0.1)  # polls a published snapshot (no event to wait on)
    raise Failed("still a framework after its teardown")


def bad_calls(master, **_):
    f = Framework(master)
    f.call("REVIVE", expect=400, headers={"Mesos-Stream-Id": ""})
    f.call("REVIVE", expect=403, headers={"Mesos-Stream-Id": "not-a-stream"})
    body = json.dumps({"type": "REVIVE", "framework_id": {"value": "someone-else"}})
    f.calls.request("POST", "/api/v1/scheduler", body,
                    {"Content-Type": "application/json", "Mesos-Stream-Id": f.stream_id})
    resp = f.calls.getresponse()
    resp.read()
    check(resp.status == 403, "another framework's id answered %d" % resp.status)
    for ctype, want in (("application/x-protobuf", 415), ("text/plain", 415)):
        f.calls.request("POST", "/api/v1/scheduler", "{}", {"Content-Type": ctype})
        resp = f.calls.getresponse()
        resp.read()
        check(resp.status == want, "%s answered %d" % (ctype, resp.status))
    f.calls.request("GET", "/api/v1/scheduler")
    resp = f.calls.getresponse()
    resp.read()
    check(resp.status == 405, "GET answered %d" % resp.status)
    text = f.call("ACCEPT", expect=400, accept={"offer_ids": [{"value": "x"}], "operations": [
        {"type": "LAUNCH", "launch": {"task_infos": [{"name": "n"}]}}]})
    check("task_id" in text, "the 400 does not say what is wrong: " + text)
    # An ACCEPT of an offer that is not (or no longer) the framework's.
    f.launch({"id": {"value": "no-such-offer"}, "agent_id": {"value": "a"}}, "lost", "true")
    st = f.update("lost", TERMINAL)
    check(st["state"] in ("TASK_DROPPED", "TASK_ERROR", "TASK_LOST"), "unknown offer: %s" % st)
    # A chunked call body without Content-Length (as streaming clients send).
    conn = http.client.HTTPConnection(f.host, f.port, timeout=10)
    conn.putrequest("POST", "/api/v1/scheduler")
    for k, v in (("Content-Type", "application/json"), ("Mesos-Stream-Id", f.stream_id),
                 ("Transfer-Encoding", "chunked")):
        conn.putheader(k, v)
    conn.endheaders()
    data = json.dumps({"type": "SUPPRESS", "framework_id": {"value": f.id}}).encode()
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
    resp = conn.getresponse()
    check(resp.status == 202, "a chunked call answered %d" % resp.status)
    f.call("TEARDOWN")


def operator_stream(endpoint):
    """The events of an operator SUBSCRIBE (master or agent) on a queue."""
    host, port = endpoint.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    conn.request("POST", "/api/v1", json.dumps({"type": "SUBSCRIBE"}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    check(resp.status == 200, "SUBSCRIBE answered %d" % resp.status)
    events = queue.Queue()

    def read():
        try:
            while True:
                line = resp.readline()
                if not line:
                    break
                events.put(json.loads(resp.read(int(line))))
        except Exception:
            pass
    threading.Thread(target=read, daemon=True).start()
    return events


def wait_events(events, wanted, timeout=30):
    """Waits until every (type, predicate) of `wanted` matched an event."""
    left = list(wanted)
    until = time.time() + timeout
    while left:
        try:
            e = events.get(timeout=max(0.01, until - time.time()))
        except queue.Empty:
            raise Failed("no %s on the operator stream" % [w[0] for w in left])
        left = [w for w in left if not (e["type"] == w[0] and w[1](e))]


def custom_executor(master, executor, **_):
    f = Framework(master)
    o = f.offer()
    # The agent's operator stream (its endpoint is the offer's url) shows
    # the executor and its task.
    agent_events = operator_stream("%s:%d" % (o["url"]["address"]["ip"],
                                              o["url"]["address"]["port"]))
    wait_events(agent_events, [("SUBSCRIBED", lambda e: True)])
    f.launch(o, "by-executor", "echo from the executor", executor=executor)
    st = f.update("by-executor", {"TASK_RUNNING"} | TERMINAL)
    check(st["state"] == "TASK_RUNNING", "the executor's task did not run: %s" % st)
    st = f.update("by-executor", TERMINAL)
    check(st["state"] == "TASK_FINISHED" and st["source"] == "SOURCE_EXECUTOR", "%s" % st)
    mine = lambda key: lambda e: e[key]["task"]["task_id"]["value"] == "by-executor"  # noqa
    wait_events(agent_events, [
        ("EXECUTOR_ADDED", lambda e: e["executor_added"]["executor"]["executor_info"]
         ["executor_id"]["value"] == "py-exec"),
        ("TASK_ADDED", mine("task_added")),
        ("TASK_UPDATED", lambda e: e["task_updated"]["status"]["task_id"]["value"]
         == "by-executor" and e["task_updated"]["state"] == "TASK_FINISHED")])
    o = f.offer()
    f.launch(o, "long", "sleep 300", executor=executor)
    f.update("long", {"TASK_RUNNING"})
    busy = f.offer()  # the executor runs a task there: offers name it
    check({"value": "py-exec"} in busy.get("executor_ids", []), "no executor_ids: %s" % busy)
    # The agent's operator API (its endpoint is the offer's url) shows both.
    agent = "%s:%d" % (busy["url"]["address"]["ip"], busy["url"]["address"]["port"])
    until = time.time() + 10
    while True:  # its view is republished within a moment
        tasks = operator_call(agent, "GET_TASKS")["launched_tasks"]
        if any(t["task_id"]["value"] == "long" for t in tasks):
            break
        check(time.time() < until, "the agent's GET_TASKS lacks the task: %s" % tasks)
        time.sleep(0.1)
    execs = operator_call(agent, "GET_EXECUTORS")["executors"]
    check(any(e["executor_info"]["executor_id"]["value"] == "py-exec" for e in execs),
          "the agent's GET_EXECUTORS lacks the executor: %s" % execs)
    check(operator_call(agent, "GET_HEALTH")["healthy"], "the agent is not healthy")
    # Nobody but the executor the agent launched can act as it.
    ahost, aport = agent.rsplit(":", 1)
    ids = {"framework_id": {"value": f.id}, "executor_id": {"value": "py-exec"}}
    for token, call in ((None, "SUBSCRIBE"), ("wrong", "SUBSCRIBE"), ("wrong", "UPDATE")):
        conn = http.client.HTTPConnection(ahost, int(aport), timeout=10)
        body = dict(ids, type=call)
        if call == "UPDATE":
            body["update"] = {"status": {"task_id": {"value": "long"}, "state": "TASK_FINISHED",
                                         "uuid": base64.b64encode(b"0123456789abcdef").decode()}}
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        conn.request("POST", "/api/v1/executor", json.dumps(body), headers)
        resp = conn.getresponse()
        resp.read()
        check(resp.status == 401, "%s with token %s answered %d" % (call, token, resp.status))
    f.call("DECLINE", decline={"offer_ids": [busy["id"]]})
    f.call("KILL", kill={"task_id": {"value": "long"}, "agent_id": o["agent_id"]})
    f.update("long", {"TASK_KILLED"})
    f.call("MESSAGE", message={"agent_id": o["agent_id"], "executor_id": {"value": "py-exec"},
                               "data": base64.b64encode(b"hi").decode()})
    # SHUTDOWN of the executor ends its task.
    o = f.offer()
    f.launch(o, "long2", "sleep 300", executor=executor)
    f.update("long2", {"TASK_RUNNING"})
    f.call("SHUTDOWN", shutdown={"executor_id": {"value": "py-exec"}, "agent_id": o["agent_id"]})
    st = f.update("long2", TERMINAL)
    check(st["state"] in ("TASK_KILLED", "TASK_FAILED", "TASK_LOST"), "long2: %s" % st)
    o = f.offer()
    agent = "%s:%d" % (o["url"]["address"]["ip"], o["url"]["address"]["port"])
    # Another executor (py-exec may still be ending: a task for it would end with it).
    f.launch(o, "long3", "sleep 300", executor=executor, executor_id="py-exec-2")
    f.update("long3", {"TASK_RUNNING"})
    f.call("TEARDOWN")  # the executor is shut down, its task killed
    f.wait("_END")
    eventually("the executor outlived the teardown", lambda: not any(
        e["executor_info"]["framework_id"]["value"] == f.id
        for e in operator_call(agent, "GET_EXECUTORS")["executors"]), timeout=30)
    wait_events(agent_events, [
        ("EXECUTOR_TERMINATED", lambda e: e["executor_terminated"]["framework_id"]["value"]
         == f.id)])


def agent_restart(master, executor, agent_argv, **_):
    """The agent restarts under a running v1 executor, which re-subscribes."""
    log = open(agent_argv[agent_argv.index("--work-dir") + 1] + ".log", "ab")
    agent = subprocess.Popen(agent_argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        f = Framework(master, name="v1-restart")
        o = f.offer()
        f.launch(o, "survivor", "sleep 300", executor=executor)
        f.update("survivor", {"TASK_RUNNING"})
        agent.send_signal(signal.SIGTERM)  # --stop-keeps-tasks: the executor stays
        check(agent.wait(timeout=30) == 0, "the agent did not stop cleanly")
        agent = subprocess.Popen(agent_argv, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(30):  # reconciled once the agent is back
            f.call("RECONCILE", reconcile={"tasks": [{"task_id": {"value": "survivor"}}]})
            st = f.update("survivor", {"TASK_RUNNING", "TASK_LOST", "TASK_UNREACHABLE"})
            if st["state"] == "TASK_RUNNING":
                break
            time.sleep(1)  # the agent is not back yet: ask again
        check(st["state"] == "TASK_RUNNING", "the task did not survive: %s" % st)
        # The kill reaches the task through the re-subscribed executor (asked
        # again while the agent may still be on its way back, as frameworks do).
        for attempt in range(12):
            f.call("KILL", kill={"task_id": {"value": "survivor"}, "agent_id": o["agent_id"]})
            try:
                f.update("survivor", {"TASK_KILLED"}, timeout=5)
                break
            except Failed:
                check(attempt < 11, "the task was not killed")
        f.call("TEARDOWN")
        f.wait("_END")
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)


def operator_call(master, type_):
    host, port = master.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/api/v1", json.dumps({"type": type_}),
                 {"Content-Type": "application/json", "Accept": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    check(resp.status == 200, "%s answered %d: %s" % (type_, resp.status, body))
    reply = json.loads(body)
    check(reply["type"] == type_, "%s answered %s" % (type_, reply["type"]))
    return reply[type_.lower()]


def operator_watch(master, **_):
    """The operator API's calls, then its SUBSCRIBE stream until it has shown
    a task of a v1 framework and one of hadoop-like added and finished."""
    check(operator_call(master, "GET_HEALTH")["healthy"], "not healthy")
    check(operator_call(master, "GET_VERSION")["version_info"]["version"], "no version")
    check(operator_call(master, "GET_FLAGS")["flags"], "no flags")
    until = time.time() + 30
    while not operator_call(master, "GET_AGENTS")["agents"]:  # the snapshot shows it soon
        check(time.time() < until, "no agents")
        time.sleep(0.1)
    for call in ("GET_STATE", "GET_FRAMEWORKS", "GET_TASKS", "GET_EXECUTORS", "GET_ROLES",
                 "GET_WEIGHTS", "GET_QUOTA"):
        operator_call(master, call)
    host, port = master.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    conn.request("POST", "/api/v1", json.dumps({"type": "SUBSCRIBE"}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    check(resp.status == 200, "SUBSCRIBE answered %d" % resp.status)
    names, added, finished = {}, set(), set()
    want = {"hadoop", "v1"}
    print("WATCHING", flush=True)
    while not (want <= added and want <= finished):
        line = resp.readline()
        check(line, "the operator stream ended")
        e = json.loads(resp.read(int(line)))
        kind = e["type"]
        if kind == "SUBSCRIBED":
            check("get_state" in e["subscribed"], "SUBSCRIBED without the state")
        elif kind == "FRAMEWORK_ADDED":
            info = e["framework_added"]["framework"]["framework_info"]
            names[info["id"]["value"]] = "v1" if info["name"].startswith("v1") else "hadoop"
        elif kind == "TASK_ADDED":
            added.add(names.get(e["task_added"]["task"]["framework_id"]["value"]))
        elif kind == "TASK_UPDATED" and e["task_updated"]["state"] == "TASK_FINISHED":
            finished.add(names.get(e["task_updated"]["framework_id"]["value"]))


def operator_post(master, body):
    host, port = master.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/api/v1", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def eventually(what, fn, timeout=10):
    until = time.time() + timeout
    while not fn():
        check(time.time() < until, what)
        time.sleep(0.1)  # polls the published snapshot (no event to wait on)


def operator_updates(master, **_):
    status, text = operator_post(master, {"type": "UPDATE_WEIGHTS", "update_weights": {
        "weight_infos": [{"role": "v1w", "weight": 3.0}]}})
    check(status == 200, "UPDATE_WEIGHTS answered %d %s" % (status, text))
    eventually("GET_WEIGHTS lacks v1w=3", lambda: {"role": "v1w", "weight": 3.0} in
               operator_call(master, "GET_WEIGHTS")["weight_infos"])
    status, text = operator_post(master, {"type": "UPDATE_WEIGHTS", "update_weights": {
        "weight_infos": [{"role": "v1w", "weight": -1}]}})
    check(status == 400 and "positive" in text, "a negative weight answered %d %s"
          % (status, text))
    quota = {"role": "v1q", "guarantees": {"cpus": {"value": 0.5}}, "limits": {"cpus": {"value": 1}}}
    status, text = operator_post(master, {"type": "UPDATE_QUOTA",
                                          "update_quota": {"quota_configs": [quota]}})
    check(status == 200, "UPDATE_QUOTA answered %d %s" % (status, text))
    eventually("GET_QUOTA lacks v1q", lambda: any(
        c["role"] == "v1q" and c["guarantees"]["cpus"]["value"] == 0.5
        for c in operator_call(master, "GET_QUOTA")["status"]["configs"]))
    status, text = operator_post(master, {"type": "UPDATE_QUOTA", "update_quota": {
        "quota_configs": [{"role": "v1q"}]}})  # nothing: the quota goes
    check(status == 200, "removing the quota answered %d %s" % (status, text))
    eventually("GET_QUOTA still has v1q", lambda: all(
        c["role"] != "v1q" for c in operator_call(master, "GET_QUOTA")["status"]["configs"]))
    status, text = operator_post(master, {"type": "NO_SUCH_CALL"})
    check(status == 400, "an unknown call answered %d" % status)


SCENARIOS = {"command_tasks": command_tasks, "decline_filter": decline_filter,
             "kill_and_reconcile": kill_and_reconcile, "failover": failover,
             "bad_calls": bad_calls, "custom_executor": custom_executor,
             "agent_restart": agent_restart, "operator_watch": operator_watch,
             "operator_updates": operator_updates}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--master", required=True)
    ap.add_argument("--executor", help="the v1 executor script (absolute path)")
    ap.add_argument("--agent-argv", help="JSON argv of an agent agent_restart starts itself")
    ap.add_argument("scenarios", nargs="*")
    args = ap.parse_args()
    alone = ("agent_restart", "operator_watch")  # run only when named
    for name in args.scenarios or [n for n in SCENARIOS if n not in alone]:
        try:
            SCENARIOS[name](args.master, executor=args.executor,
                            agent_argv=json.loads(args.agent_argv or "null"))
        except (Failed, OSError, KeyError, ValueError) as e:
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
            return 1
        print("PASS", name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
