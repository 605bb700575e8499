// Mesos' v1 JSON as caldera reads and writes it (issue 18): calls as real
// clients send them (nulls, unknown fields, 64-bit numbers as strings),
// validation messages that say what is wrong, and events in Mesos' shapes.
#include <doctest/doctest.h>

#include "actors/base64.hpp"
#include "actors/v1_json.hpp"
#include "master/v1_calls.hpp"

using namespace caldera;
using namespace caldera::v1;
using json = nlohmann::json;

namespace {

std::string error_of(const std::string& body) {
  try {
    parse_scheduler_call(body);
  } catch (const v1_error& e) {
    return e.what();
  }
  return {};
}

json launch_call(json task) {
  return {{"type", "ACCEPT"},
          {"framework_id", {{"value", "f1"}}},
          {"accept",
           {{"offer_ids", {{{"value", "o1"}}}},
            {"operations", {{{"type", "LAUNCH"}, {"launch", {{"task_infos", {task}}}}}}},
            {"filters", {{"refuse_seconds", "30"}}}}}};
}

json command_task() {
  return {{"name", "t"},
          {"task_id", {{"value", "t1"}}},
          {"agent_id", {{"value", "a1"}}},
          {"resources",
           {{{"name", "cpus"}, {"type", "SCALAR"}, {"scalar", {{"value", 0.5}}},
             {"allocation_info", {{"role", "*"}}}},
            {{"name", "ports"}, {"type", "RANGES"},
             {"ranges", {{"range", {{{"begin", "31000"}, {"end", 31001}}}}}},
             {"reservations", {{{"type", "STATIC"}, {"role", "web"}}}}}}},
          {"command", {{"value", "echo hi"}, {"uris", nullptr}}},
          {"kill_policy", {{"grace_period", {{"nanoseconds", "2000000000"}}}}},
          {"data", base64_encode("payload")},
          {"labels", {{"labels", json::array()}}}}; // unknown here: ignored
}

} // namespace

TEST_CASE("v1: SUBSCRIBE becomes the SDK's registration, with explicit acknowledgements") {
  auto c = parse_scheduler_call(R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{
    "user":"u","name":"n","roles":["a","b"],"id":null,"failover_timeout":"60",
    "capabilities":[{"type":"MULTI_ROLE"},{"type":"PARTITION_AWARE"}],"webui_url":"x"}}})");
  CHECK(c.type == scheduler_call::kind::subscribe);
  CHECK(c.framework.name == "n");
  CHECK(c.framework.user == "u");
  CHECK(c.framework.roles == std::vector<std::string>{"a", "b"});
  CHECK(c.framework.failover_timeout == 60);
  CHECK(c.framework.partition_aware);
  CHECK_FALSE(c.framework.implicit_acknowledgements);
  CHECK(c.framework_id.empty());
  auto old = parse_scheduler_call(R"({"type":"SUBSCRIBE","framework_id":{"value":"f"},
    "subscribe":{"framework_info":{"user":"u","name":"n","role":"r","id":{"value":"f"}}}})");
  CHECK(old.framework.framework_id == "f");
  CHECK(old.framework.roles == std::vector<std::string>{"r"});
  CHECK(error_of(R"({"type":"SUBSCRIBE","framework_id":{"value":"g"},
    "subscribe":{"framework_info":{"user":"u","name":"n","id":{"value":"f"}}}})")
          .find("differs") != std::string::npos);
}

TEST_CASE("v1: a LAUNCH becomes task specs with resources, roles, data and kill policy") {
  auto c = parse_scheduler_call(launch_call(command_task()).dump());
  REQUIRE(c.type == scheduler_call::kind::accept);
  CHECK(c.framework_id == "f1");
  CHECK(c.offer_ids == std::vector<std::string>{"o1"});
  CHECK(c.refuse_seconds == 30);
  REQUIRE(c.operations.size() == 1);
  REQUIRE(c.operations[0].tasks.size() == 1);
  auto& t = c.operations[0].tasks[0];
  CHECK(t.task_id == "t1");
  CHECK(t.agent_id == "a1");
  CHECK(t.command == "echo hi");
  CHECK(t.data == "payload");
  CHECK(t.kill_grace_period == doctest::Approx(2.0));
  CHECK(t.res.to_string() == "cpus:0.5;ports(web):[31000-31001]");
}

TEST_CASE("v1: a custom executor's task and a command without a shell") {
  auto task = command_task();
  task.erase("command");
  task["executor"] = {{"executor_id", {{"value", "e1"}}},
                      {"type", "CUSTOM"},
                      {"resources", {{{"name", "mem"}, {"type", "SCALAR"},
                                      {"scalar", {{"value", 32}}}}}},
                      {"command", {{"shell", false}, {"value", "/bin/my-exec"},
                                   {"arguments", {"my-exec", "--name", "it's"}}}}};
  auto c = parse_scheduler_call(launch_call(task).dump());
  auto& t = c.operations[0].tasks[0];
  CHECK(t.executor_id == "e1");
  CHECK(t.executor_command == "exec '/bin/my-exec' '--name' 'it'\"'\"'s'");
  CHECK(t.executor_res.to_string() == "mem:32");
  CHECK(t.command.empty());
}

TEST_CASE("v1: what caldera cannot do is refused by name") {
  auto with = [](const std::function<void(json&)>& f) {
    auto t = command_task();
    f(t);
    return error_of(launch_call(t).dump());
  };
  CHECK(with([](json& t) { t["resources"][0]["type"] = "SET"; }).find("SET") !=
        std::string::npos);
  CHECK(with([](json& t) { t["command"]["uris"] = {{{"value", "http://x"}}}; })
          .find("fetcher") != std::string::npos);
  CHECK(with([](json& t) { t["container"] = {{"type", "DOCKER"}}; }).find("image") !=
        std::string::npos);
  CHECK(with([](json& t) { t.erase("task_id"); }).find("task_id") != std::string::npos);
  CHECK(with([](json& t) { t["executor"] = {{"executor_id", {{"value", "e"}}}}; })
          .find("exactly one") != std::string::npos);
  CHECK(with([](json& t) { t["resources"][0]["scalar"]["value"] = "lots"; })
          .find("not a number") != std::string::npos);
  CHECK(with([](json& t) { t["data"] = "%%%"; }).find("base64") != std::string::npos);
  CHECK(error_of("{").find("JSON") != std::string::npos);
  CHECK(error_of("[1]").find("object") != std::string::npos);
  CHECK(error_of(R"({"type":"KILL","kill":{"task_id":{"value":"t"}}})").find("framework_id") !=
        std::string::npos);
  CHECK(error_of(R"({"type":"SHUTDOWN","framework_id":{"value":"f"}})").find("shutdown") !=
        std::string::npos);
  CHECK(error_of(R"({"type":"ACCEPT_INVERSE_OFFERS","framework_id":{"value":"f"}})")
          .find("not supported yet") != std::string::npos);
  CHECK(error_of(R"({"type":"FLY","framework_id":{"value":"f"}})").find("unknown") !=
        std::string::npos);
  CHECK(error_of(R"({"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[
    {"value":"o"}],"operations":[{"type":"RESERVE"}]}})").find("RESERVE") != std::string::npos);
}

TEST_CASE("v1: ACKNOWLEDGE decodes the uuid; RECONCILE, DECLINE, REVIVE, MESSAGE") {
  json ack{{"type", "ACKNOWLEDGE"},
           {"framework_id", {{"value", "f"}}},
           {"acknowledge",
            {{"agent_id", {{"value", "a"}}}, {"task_id", {{"value", "t"}}},
             {"uuid", base64_encode("u-123")}}}};
  CHECK(parse_scheduler_call(ack.dump()).uuid == "u-123");
  auto r = parse_scheduler_call(R"({"type":"RECONCILE","framework_id":{"value":"f"},
    "reconcile":{"tasks":[{"task_id":{"value":"t"},"agent_id":null}]}})");
  REQUIRE(r.tasks.size() == 1);
  CHECK(r.tasks[0].task_id == "t");
  CHECK(parse_scheduler_call(R"({"type":"RECONCILE","framework_id":{"value":"f"}})")
          .tasks.empty());
  auto d = parse_scheduler_call(R"({"type":"DECLINE","framework_id":{"value":"f"},
    "decline":{"offer_ids":[{"value":"o"}],"filters":{"refuse_seconds":3600}}})");
  CHECK(d.refuse_seconds == 3600);
  auto rv = parse_scheduler_call(R"({"type":"REVIVE","framework_id":{"value":"f"},
    "revive":{"roles":["x"]}})");
  CHECK(rv.roles == std::vector<std::string>{"x"});
  auto m = parse_scheduler_call(R"({"type":"MESSAGE","framework_id":{"value":"f"},
    "message":{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"data":"aGk="}})");
  CHECK(m.data == "hi");
}

TEST_CASE("v1: offers and statuses in Mesos' JSON shapes; RecordIO framing") {
  offer o;
  o.id = "o1";
  o.agent_id = "a1";
  o.hostname = "h";
  o.res = *resources::parse("cpus:2;mem(web):64;ports:[31000-31002]");
  o.attributes = {{"rack", "r1"}, {"size", "3"}};
  o.executor_ids = {"e1"};
  o.agent_http_endpoint = "127.0.0.1:5051";
  auto j = offer_json(o, "f1", "web");
  CHECK(j["id"]["value"] == "o1");
  CHECK(j["framework_id"]["value"] == "f1");
  CHECK(j["url"]["address"]["port"] == 5051);
  CHECK(j["executor_ids"][0]["value"] == "e1");
  CHECK(j["attributes"][0]["text"]["value"] == "r1");
  CHECK(j["attributes"][1]["scalar"]["value"] == 3.0);
  auto back = resources_from_json(j["resources"], "offer");
  CHECK(back == o.res); // what an offer says, a launch can take as is
  CHECK(j["resources"][0]["allocation_info"]["role"] == "web");
  status_info s;
  s.task_id = "t";
  s.state = schema::TaskState::FINISHED;
  s.uuid = "u-1";
  s.exit_code = 3;
  s.source = schema::StatusSource::EXECUTOR;
  auto st = status_json(s);
  CHECK(st["state"] == "TASK_FINISHED");
  CHECK(st["source"] == "SOURCE_EXECUTOR");
  CHECK(base64_decode(st["uuid"].get<std::string>()) == "u-1");
  CHECK(st["exit_code"] == 3);
  auto rec = recordio(json{{"type", "HEARTBEAT"}});
  CHECK(rec == "20\n{\"type\":\"HEARTBEAT\"}");
  recordio_reader rd;
  std::vector<std::string> got;
  auto two = rec + rec;
  for (char ch : two)
    REQUIRE(rd.feed(std::string_view{&ch, 1}, got));
  CHECK(got.size() == 2);
  CHECK_FALSE(rd.feed("x\n", got));
}
