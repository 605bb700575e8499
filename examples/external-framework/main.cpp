// hello-framework: the smallest whole framework on caldera's SDK. It runs
// --tasks command tasks and one task of its own executor (this binary again,
// `hello-framework executor`), which does its work off the actor and reports
// the result. Exits 0 when every task finished, 1 otherwise.
#include <cstdio>
#include <memory>
#include <set>
#include <string>

#include <actors/bootstrap.hpp>
#include <actors/executor.hpp>

namespace {

struct hello_config : caldera::framework_config {
  int tasks = 3;
  hello_config() : framework_config("hello-framework") {
    options().add(tasks, "tasks", "how many command tasks to run");
  }
  std::optional<std::string> validate() override {
    if (auto why = framework_config::validate())
      return why;
    if (tasks < 0 || tasks > 1000)
      return "option 'tasks': must be 0..1000";
    return std::nullopt;
  }
};

class hello_scheduler : public caldera::scheduler {
public:
  hello_scheduler(caf::actor_config& cfg, caldera::scheduler_options so, int tasks,
                  std::shared_ptr<bool> ok)
    : scheduler(cfg, std::move(so)), ok_(std::move(ok)) {
    for (int i = 0; i < tasks; ++i)
      pending_.insert("hello-" + std::to_string(i));
    pending_.insert("compute");
    waiting_ = pending_;
  }

protected:
  void registered(const std::string& id, const std::string&) override {
    std::printf("registered as %s\n", id.c_str());
  }

  void resource_offers(const std::vector<caldera::offer>& offers) override {
    auto need = *caldera::resources::parse("cpus:0.1;mem:32");
    for (auto& o : offers) {
      std::vector<caldera::task_spec> launch;
      auto left = o.res;
      bool running = !o.executor_ids.empty(); // our executor has tasks there
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        caldera::task_spec t;
        t.task_id = *it;
        t.agent_id = o.agent_id;
        t.res = need;
        if (t.task_id == "compute") { // a task of our own executor
          t.executor_id = "hello-executor";
          t.executor_command = caldera::executable_path() + " executor";
          t.executor_res = need; // charged while the executor has tasks
        } else {
          t.command = "echo hello from $CALDERA_TASK_ID";
        }
        auto total = t.executor_id.empty() || running ? t.res : t.res + t.executor_res;
        if (!left.contains(total)) {
          ++it;
          continue;
        }
        left = left - total;
        launch.push_back(t);
        it = waiting_.erase(it);
      }
      launch.empty() ? decline({o.id}) : accept({o.id}, launch);
    }
  }

  void status_update(const caldera::status_info& st) override {
    std::printf("%s %s %s\n", st.task_id.c_str(), caldera::state_name(st.state),
                st.message.c_str());
    if (!caldera::is_terminal(st.state))
      return;
    if (st.state != caldera::schema::TaskState::FINISHED)
      *ok_ = false;
    pending_.erase(st.task_id);
    if (pending_.empty())
      stop(); // tears the framework down; run_framework returns
  }

  void framework_message(const std::string&, const std::string&, const std::string& data) override {
    std::printf("executor says: %s\n", data.c_str());
  }

private:
  std::set<std::string> pending_; // not ended yet
  std::set<std::string> waiting_; // not launched yet
  std::shared_ptr<bool> ok_;
};

class hello_executor : public caldera::executor {
public:
  using executor::executor;

protected:
  void launch_task(const caldera::task_info& task) override {
    send_status(task.task_id, caldera::schema::TaskState::RUNNING);
    auto id = task.task_id;
    run_blocking<long>( // long work off the actor: the executor keeps serving
      [] {
        long sum = 0;
        for (long i = 1; i <= 1000000; ++i)
          sum += i;
        return sum;
      },
      [this, id](long sum) {
        send_message("sum of 1..1000000 is " + std::to_string(sum));
        send_status(id, caldera::schema::TaskState::FINISHED, std::to_string(sum));
        finish();
      });
  }
};

} // namespace

int main(int argc, char** argv) {
  using namespace caldera;
  if (argc > 1 && std::string{argv[1]} == "executor")
    return run_executor_process("hello-executor", argc - 1, argv + 1,
                                [](caf::actor_system& sys, executor_options o) {
                                  sys.spawn<hello_executor>(std::move(o));
                                });
  hello_config cfg;
  auto ok = std::make_shared<bool>(true);
  int rc = run_framework(cfg, argc, argv, [&](caf::actor_system& sys, scheduler_options so) {
    return sys.spawn<hello_scheduler>(std::move(so), cfg.tasks, ok);
  });
  return rc != 0 ? rc : (*ok ? 0 : 1);
}
