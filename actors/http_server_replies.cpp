// http_server's replies: from the handler threads (or a deferred reply's
// completion) through a queue and the eventfd to the I/O thread, which writes
// them; streamed replies (http_stream) and the handler threads themselves.
#include <algorithm>

#include <httplib.h>
#include <unistd.h>

#include "actors/http_server_impl.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace caldera {

void http_server::loop::take_replies() {
  uint64_t n = 0;
  [[maybe_unused]] auto r = ::read(wake_fd, &n, sizeof(n));
  std::deque<reply> ready;
  {
    std::lock_guard<std::mutex> g{m};
    ready.swap(replies);
  }
  for (auto& rep : ready) {
    auto i = conns.find(rep.id);
    if (i != conns.end() && i->second->ph == conn::phase::handling)
      start_reply(*i->second, std::move(rep));
    else if (rep.stream) // closed meanwhile: its producer learns it
      rep.stream->end();
  }
  std::vector<uint64_t> woken;
  {
    std::lock_guard<std::mutex> g{m};
    woken.swap(stream_wakes);
  }
  for (auto id : woken) {
    auto i = conns.find(id);
    if (i != conns.end() && i->second->ph == conn::phase::streaming)
      pump(*i->second);
  }
}

void http_server::loop::start_reply(conn& c, reply r) {
  if (r.stream && !r.head_only)
    return start_stream(c, r);
  if (r.stream)
    r.stream->end();
  c.out = std::move(r.head);
  c.out_off = 0;
  c.keep_alive = r.keep_alive;
  c.body_off = 0;
  c.body_len = 0;
  if (!r.head_only) {
    if (r.res->content_provider_) {
      c.body_len = r.body_len;
      c.res = std::move(r.res);
    } else {
      c.out += r.res->body;
    }
  }
  c.ph = conn::phase::writing;
  c.want = EPOLLOUT;
  c.waiting_since = steady::now();
  c.deadline = c.waiting_since + lim.request_timeout;
  write(c);
}

bool http_server::loop::fill_body(conn& c) {
  if (!c.res || c.body_off >= c.body_len)
    return true;
  httplib::DataSink sink;
  sink.write = [&c](const char* d, size_t n) {
    c.out.append(d, n);
    return true;
  };
  sink.is_writable = [] { return true; };
  sink.done = [] {};
  size_t want = std::min(provider_chunk, c.body_len - c.body_off);
  if (!c.res->content_provider_(c.body_off, want, sink) || c.out.empty())
    return false;
  c.body_off += c.out.size();
  return true;
}

void http_server::loop::after_reply(conn& c) {
  c.res.reset();
  if (c.stream)
    c.stream->end();
  c.stream.reset();
  c.stream_done = false;
  if (!c.keep_alive)
    return close(c, nullptr);
  c.parser.reset();
  c.continued = false;
  c.ph = conn::phase::reading;
  c.want = EPOLLIN;
  c.waiting_since = steady::now();
  c.deadline = c.waiting_since + lim.idle_timeout;
  read(c); // a pipelined request, or bytes TLS already decrypted
}

void http_server::loop::refuse(conn& c, int status, const std::string& why) {
  httplib::Response res;
  reply_error(res, status, why);
  res.set_header("Access-Control-Allow-Origin", "*");
  reply r{c.id, nullptr, nullptr, http_response_head(res, res.body.size(), false) + res.body, 0,
          false, true};
  start_reply(c, std::move(r));
}

// --- streamed replies ----------------------------------------------------------

void http_server::loop::start_stream(conn& c, reply& r) {
  c.out = std::move(r.head);
  c.out_off = 0;
  c.keep_alive = r.keep_alive;
  c.stream = std::move(r.stream);
  c.stream_done = false;
  c.ph = conn::phase::streaming;
  c.waiting_since = steady::now();
  c.deadline = c.waiting_since + lim.request_timeout;
  metrics::http_connection("streaming");
  c.stream->attach([this, id = c.id] { wake_stream(id); });
  write(c);
}

void http_server::loop::wake_stream(uint64_t id) {
  {
    std::lock_guard<std::mutex> g{m};
    stream_wakes.push_back(id);
  }
  uint64_t one = 1;
  [[maybe_unused]] auto w = ::write(wake_fd, &one, sizeof(one));
}

void http_server::loop::pump(conn& c) {
  if (c.out_off == c.out.size())
    write(c);
}

bool http_server::loop::refill(conn& c) {
  auto t = c.stream->take();
  if (t.overflow) {
    close(c, "stream_overflow");
    return false;
  }
  c.out = std::move(t.bytes);
  if (t.finished) {
    c.out += "0\r\n\r\n";
    c.stream_done = true;
  }
  if (!c.out.empty())
    c.deadline = steady::now() + lim.request_timeout; // it must read by then
  return true;
}

void http_server::loop::on_stream_event(conn& c) {
  if (c.out_off < c.out.size())
    return write(c);
  drain_input(c);
}

void http_server::loop::drain_input(conn& c) {
  char buf[read_chunk];
  for (int k = 0; k < 16; ++k) {
    size_t got = 0;
    auto r = read_some(c, buf, sizeof(buf), got);
    if (r == io::closed)
      return close(c, "peer_closed");
    if (r != io::ok)
      return;
  }
}

void http_server::loop::end_streams() {
  for (auto& [id, c] : conns)
    if (c->stream) {
      c->stream->end();
      c->stream.reset();
    }
  for (auto& rep : replies)
    if (rep.stream)
      rep.stream->end();
}

void http_server::loop::work() {
  // Readers must never slow scheduling: handlers run at a lower CPU priority
  // (the idle class) than the actors' threads.
  lower_thread_priority();
  while (true) {
    job j;
    {
      std::unique_lock<std::mutex> g{m};
      cv.wait(g, [this] { return stopping || !jobs.empty(); });
      if (stopping)
        return;
      j = std::move(jobs.front());
      jobs.pop_front();
    }
    auto r = answer(j);
    if (r.res || !r.head.empty()) // else: deferred, pushed when complete
      push_reply(std::move(r));
  }
}

void http_server::loop::push_reply(reply r) {
  {
    std::lock_guard<std::mutex> g{m};
    replies.push_back(std::move(r));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto w = ::write(wake_fd, &one, sizeof(one));
}

void http_server::loop::defer(const job& j, const std::shared_ptr<http_deferred>& d) {
  job head{j.id, {}, j.keep_alive};
  head.req.method = j.req.method;
  d->attach([w = deferred_waker, head = std::move(head)](std::unique_ptr<httplib::Response> res) {
    std::lock_guard<std::mutex> g{w->m};
    if (w->l != nullptr)
      w->l->push_reply(w->l->make_reply(head, std::move(res)));
  });
}

reply http_server::loop::answer(job& j) {
  auto res = std::make_unique<httplib::Response>();
  if (!refuse_unauthenticated(sec, j.req, *res))
    router.route(j.req, *res);
  if (auto d = deferred_of(*res)) {
    defer(j, d);
    return reply{j.id, nullptr, nullptr, {}, 0, j.keep_alive, false};
  }
  return make_reply(j, std::move(res));
}

reply http_server::loop::make_reply(const job& j, std::unique_ptr<httplib::Response> res) {
  if (!res->has_header("Access-Control-Allow-Origin"))
    res->set_header("Access-Control-Allow-Origin", "*");
  auto stream = stream_of(*res);
  size_t len = res->content_provider_ ? res->content_length_ : res->body.size();
  auto head = stream ? http_chunked_head(*res, j.keep_alive)
                     : http_response_head(*res, len, j.keep_alive);
  return reply{j.id, std::move(res), std::move(stream), std::move(head), len, j.keep_alive,
               j.req.method == "HEAD"};
}

} // namespace caldera
