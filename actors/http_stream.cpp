// http_stream: the producer's half of a streamed reply; the server's half is
// in actors/http_server.cpp (conn::phase::streaming).
#include <cstdio>

#include <httplib.h>

#include "actors/http.hpp"

namespace caldera {

namespace {

// Carries the stream inside the response, where the server finds it.
struct stream_provider {
  std::shared_ptr<http_stream> stream;
  bool operator()(size_t, size_t, httplib::DataSink&) const { return false; }
};

// Carries a deferred reply inside the response, where the server finds it.
struct deferred_marker {
  std::shared_ptr<http_deferred> d;
  bool operator()(size_t, size_t, httplib::DataSink&) const { return false; }
};

} // namespace

void http_deferred::complete(const std::function<void(httplib::Response&)>& fill) {
  auto res = std::make_unique<httplib::Response>();
  fill(*res);
  if (res->status == -1) // as the router does for an ordinary reply
    res->status = 200;
  std::function<void(std::unique_ptr<httplib::Response>)> ready;
  {
    std::lock_guard<std::mutex> g{m_};
    if (done_)
      return;
    done_ = true;
    if (!ready_) {
      res_ = std::move(res);
      return;
    }
    ready = std::move(ready_);
  }
  ready(std::move(res));
}

void http_deferred::attach(std::function<void(std::unique_ptr<httplib::Response>)> ready) {
  std::unique_ptr<httplib::Response> res;
  {
    std::lock_guard<std::mutex> g{m_};
    if (!res_) {
      ready_ = std::move(ready);
      return;
    }
    res = std::move(res_);
  }
  ready(std::move(res));
}

std::shared_ptr<http_deferred> http_defer_reply(httplib::Response& res) {
  auto d = std::make_shared<http_deferred>();
  res.body.clear();
  res.content_provider_ = deferred_marker{d};
  res.is_chunked_content_provider_ = true;
  return d;
}

std::shared_ptr<http_deferred> deferred_of(const httplib::Response& res) {
  if (!res.is_chunked_content_provider_)
    return nullptr;
  auto* p = res.content_provider_.target<deferred_marker>();
  return p != nullptr ? p->d : nullptr;
}

bool http_stream::write(std::string_view data) {
  std::function<void()> wake;
  bool ok = true;
  {
    std::lock_guard<std::mutex> g{m_};
    if (closed_ || finished_)
      return false;
    if (data.empty())
      return true;
    if (!pending_.empty() && pending_.size() + data.size() > max_) {
      closed_ = overflow_ = true;
      ok = false;
      pending_.clear();
    } else {
      char size[24];
      std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
      pending_ += size;
      pending_ += data;
      pending_ += "\r\n";
    }
    wake = wake_;
  }
  if (wake)
    wake();
  return ok;
}

void http_stream::finish() {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> g{m_};
    if (closed_ || finished_)
      return;
    finished_ = true;
    wake = wake_;
  }
  if (wake)
    wake();
}

bool http_stream::closed() const {
  std::lock_guard<std::mutex> g{m_};
  return closed_ || finished_;
}

void http_stream::on_close(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> g{m_};
    if (!ended_) {
      on_close_ = std::move(fn);
      return;
    }
  }
  fn();
}

void http_stream::attach(std::function<void()> wake) {
  std::lock_guard<std::mutex> g{m_};
  wake_ = std::move(wake);
}

http_stream::taken http_stream::take() {
  std::lock_guard<std::mutex> g{m_};
  taken t;
  t.bytes.swap(pending_);
  t.overflow = overflow_;
  t.finished = finished_ && !closed_;
  return t;
}

void http_stream::end() {
  std::function<void()> fn;
  {
    std::lock_guard<std::mutex> g{m_};
    wake_ = nullptr;
    closed_ = true;
    if (ended_)
      return;
    ended_ = true;
    if (!finished_)
      fn = std::move(on_close_);
    on_close_ = nullptr;
  }
  if (fn)
    fn();
}

std::shared_ptr<http_stream> http_stream_reply(httplib::Response& res,
                                               const std::string& content_type,
                                               size_t max_buffered) {
  auto s = std::make_shared<http_stream>(max_buffered);
  res.status = 200;
  res.set_header("Content-Type", content_type);
  res.body.clear();
  res.content_provider_ = stream_provider{s};
  res.is_chunked_content_provider_ = true;
  res.content_length_ = 0;
  return s;
}

std::shared_ptr<http_stream> stream_of(const httplib::Response& res) {
  if (!res.is_chunked_content_provider_)
    return nullptr;
  auto* p = res.content_provider_.target<stream_provider>();
  return p != nullptr ? p->stream : nullptr;
}

} // namespace caldera
