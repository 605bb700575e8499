// http_server: one I/O thread multiplexes every connection with epoll (level
// triggered), plain or TLS (OpenSSL on non-blocking sockets); complete
// requests go to a pool of handler threads, whose replies come back through a
// queue and an eventfd. A connection never holds a thread while its client is
// slow: it holds at most a request's bytes, and a deadline.
//
// This is one of the I/O edges runtime_env.hpp names: it reads the steady
// clock for its deadlines and starts its own threads.
#include "actors/http_server_impl.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/error.hpp"
#include "actors/http_wire.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace caldera {

namespace http_detail {

namespace {

std::string ssl_reason() {
  auto e = ERR_get_error();
  if (e == 0)
    return "no reason given";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

io ssl_result(SSL* ssl, int r) {
  switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ: return io::want_read;
    case SSL_ERROR_WANT_WRITE: return io::want_write;
    default: return io::closed;
  }
}

io plain_result(ssize_t n, uint32_t again) {
  if (n > 0)
    return io::ok;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return again == EPOLLIN ? io::want_read : io::want_write;
  return io::closed;
}

} // namespace

// A request that needs a principal and carries none (or a wrong one): 401.
bool refuse_unauthenticated(const http_security& sec, const httplib::Request& req,
                            httplib::Response& res) {
  if (!http_needs_principal(req, sec) || !http_principal(req, sec).empty())
    return false;
  metrics::refused("http_unauthenticated");
  log::warn("peer_refused", {{"type", "http_unauthenticated"},
                             {"path", req.path},
                             {"peer", req.remote_addr}});
  res.set_header("WWW-Authenticate", "Basic realm=\"caldera\"");
  reply_error(res, 401, "this API needs credentials (HTTP Basic: a principal and its secret)");
  return true;
}

// Reads up to `n` bytes into `buf`; `got` says how many.
io read_some(conn& c, char* buf, size_t n, size_t& got) {
  got = 0;
  if (c.ssl != nullptr) {
    ERR_clear_error();
    int r = SSL_read(c.ssl, buf, static_cast<int>(n));
    if (r > 0)
      got = static_cast<size_t>(r);
    return r > 0 ? io::ok : ssl_result(c.ssl, r);
  }
  ssize_t r;
  do
    r = ::recv(c.fd, buf, n, 0);
  while (r < 0 && errno == EINTR);
  if (r > 0)
    got = static_cast<size_t>(r);
  return plain_result(r, EPOLLIN);
}

io write_some(conn& c, const char* buf, size_t n, size_t& put) {
  put = 0;
  if (c.ssl != nullptr) {
    ERR_clear_error();
    int r = SSL_write(c.ssl, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (r > 0)
      put = static_cast<size_t>(r);
    return r > 0 ? io::ok : ssl_result(c.ssl, r);
  }
  ssize_t r;
  do
    r = ::send(c.fd, buf, n, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r > 0)
    put = static_cast<size_t>(r);
  return plain_result(r, EPOLLOUT);
}

} // namespace http_detail

namespace {

SSL_CTX* https_context(const http_security& sec, std::string& why) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    why = ssl_reason();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, sec.certificate.c_str()) != 1
      || SSL_CTX_use_PrivateKey_file(ctx, sec.key.c_str(), SSL_FILETYPE_PEM) != 1
      || SSL_CTX_check_private_key(ctx) != 1) {
    why = ssl_reason();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

std::string peer_of(const sockaddr_storage& sa, int& port) {
  char buf[INET6_ADDRSTRLEN] = "";
  port = -1;
  if (sa.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    port = ntohs(in->sin_port);
  } else if (sa.ss_family == AF_INET6) {
    auto* in = reinterpret_cast<const sockaddr_in6*>(&sa);
    ::inet_ntop(AF_INET6, &in->sin6_addr, buf, sizeof(buf));
    port = ntohs(in->sin6_port);
  }
  return buf;
}

// Room for `conns` connections besides what the process has open anyway:
// the soft descriptor limit raised towards the hard one, said when short.
void make_fd_room(size_t conns) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0)
    return;
  rlim_t want = static_cast<rlim_t>(conns) + 256;
  if (r.rlim_cur >= want)
    return;
  r.rlim_cur = std::min(r.rlim_max, want);
  ::setrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < want)
    log::warn("http_fd_limit", {{"limit", static_cast<int64_t>(r.rlim_cur)},
                                {"http_max_connections", static_cast<int64_t>(conns)}});
}

} // namespace

http_server::loop::~loop() {
  stop();
  deferred_waker->l = nullptr;
  end_streams();
  for (auto& [id, c] : conns) {
    if (c->ssl != nullptr)
      SSL_free(c->ssl);
    if (c->fd >= 0)
      ::close(c->fd);
  }
  for (int fd : {listen_fd, ep, wake_fd})
    if (fd >= 0)
      ::close(fd);
  if (ctx != nullptr)
    SSL_CTX_free(ctx);
}

caf::expected<uint16_t> http_server::loop::open(const std::string& ip, uint16_t port) {
  auto fail = [&](const std::string& why) {
    return make_error(errc::invalid_config,
                      "cannot listen for HTTP on " + ip + ":" + std::to_string(port) + ": " + why);
  };
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1)
    return fail("not an IPv4 address");
  listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0
      || ::listen(listen_fd, 1024) != 0)
    return fail(std::strerror(errno));
  socklen_t len = sizeof(sa);
  ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ep = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = listen_id;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
  ev.data.u64 = wake_id;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd, &ev);
  return ntohs(sa.sin_port);
}

void http_server::loop::start_threads(size_t threads) {
  deferred_waker->l = this;
  std::signal(SIGPIPE, SIG_IGN); // a TLS write to a closed peer
  io_thread = std::thread([this] { run(); });
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i)
    workers.emplace_back([this] { work(); });
}

void http_server::loop::stop() {
  {
    std::lock_guard<std::mutex> g{deferred_waker->m};
    deferred_waker->l = nullptr;
  }
  {
    std::lock_guard<std::mutex> g{m};
    stopping = true;
  }
  cv.notify_all();
  io_stop = true;
  if (wake_fd >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_fd, &one, sizeof(one));
  }
  if (io_thread.joinable())
    io_thread.join();
  for (auto& w : workers)
    if (w.joinable())
      w.join();
  workers.clear();
}

void http_server::loop::run() {
  std::vector<epoll_event> evs(256);
  auto last_expiry = steady::now();
  while (!io_stop) {
    int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int i = 0; i < n; ++i)
      on_event(evs[i].data.u64, evs[i].events);
    reap();
    auto now = steady::now();
    if (now - last_expiry >= std::chrono::milliseconds(100)) {
      expire(now);
      last_expiry = now;
    }
  }
}

void http_server::loop::on_event(uint64_t id, uint32_t events) {
  if (id == listen_id)
    return accept_all();
  if (id == wake_id)
    return take_replies();
  auto i = conns.find(id);
  if (i == conns.end())
    return;
  auto& c = *i->second;
  switch (c.ph) {
    case conn::phase::handshake: return handshake(c);
    case conn::phase::reading: return read(c);
    case conn::phase::writing: return write(c);
    case conn::phase::streaming: return on_stream_event(c);
    case conn::phase::handling: // a hang-up while the handler runs
      if (events & (EPOLLERR | EPOLLHUP))
        close(c, "peer_closed");
      return;
    case conn::phase::closed: return;
  }
}

void http_server::loop::accept_all() {
  for (int k = 0; k < 64; ++k) {
    sockaddr_storage sa{};
    socklen_t len = sizeof(sa);
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&sa), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    make_room();
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<conn>(parse_limits());
    c->id = next_id++;
    c->fd = fd;
    int port = -1;
    c->peer = peer_of(sa, port);
    c->deadline = c->waiting_since = steady::now();
    c->deadline += lim.request_timeout;
    if (ctx != nullptr) {
      c->ssl = SSL_new(ctx);
      SSL_set_fd(c->ssl, fd);
      SSL_set_accept_state(c->ssl);
      c->ph = conn::phase::handshake;
    }
    metrics::http_connection("accepted");
    set_interest(*c);
    auto id = c->id;
    conns.emplace(id, std::move(c));
  }
}

// At max_connections: the connection that has waited longest for its
// request (or for its reader) goes, never one whose handler runs nor a
// stream (a subscriber; one that stops reading closes by its bound).
void http_server::loop::make_room() {
  reap();
  if (conns.size() < lim.max_connections)
    return;
  conn* oldest = nullptr;
  for (auto& [id, c] : conns)
    if (c->ph != conn::phase::handling && c->ph != conn::phase::closed
        && c->ph != conn::phase::streaming
        && (oldest == nullptr || c->waiting_since < oldest->waiting_since))
      oldest = c.get();
  if (oldest != nullptr)
    close(*oldest, "displaced");
}

void http_server::loop::set_interest(conn& c) {
  // While a handler runs nothing is asked (hang-ups are still reported).
  uint32_t want = c.ph == conn::phase::handling ? 0u : c.want;
  if (c.registered && c.events == want)
    return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  ::epoll_ctl(ep, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
  c.registered = true;
  c.events = want;
}

void http_server::loop::handshake(conn& c) {
  ERR_clear_error();
  int r = SSL_do_handshake(c.ssl);
  if (r == 1) {
    c.ph = conn::phase::reading;
    c.want = EPOLLIN;
    return read(c);
  }
  auto res = ssl_result(c.ssl, r);
  if (res == io::closed) {
    log::debug("http_tls_handshake_failed", {{"peer", c.peer}, {"reason", ssl_reason()}});
    return close(c, "tls_handshake_failed");
  }
  c.want = res == io::want_read ? EPOLLIN : EPOLLOUT;
  set_interest(c);
}

// Reads what the socket (or TLS) has, feeding the parser as it goes, until
// the socket has no more or a request is complete.
void http_server::loop::read(conn& c) {
  char buf[read_chunk];
  while (c.ph == conn::phase::reading) {
    parse(c);
    if (c.ph != conn::phase::reading)
      return;
    size_t got = 0;
    auto r = read_some(c, buf, sizeof(buf), got);
    if (r == io::closed)
      return close(c, "peer_closed");
    if (r != io::ok) {
      c.want = r == io::want_read ? EPOLLIN : EPOLLOUT;
      return set_interest(c);
    }
    c.in.append(buf, got);
  }
}

void http_server::loop::parse(conn& c) {
  if (c.in.empty())
    return;
  bool was_idle = !c.parser.started();
  size_t used = c.parser.feed(c.in);
  c.in.erase(0, used);
  if (was_idle && c.parser.started()) { // a request begins: its own deadline
    c.waiting_since = steady::now();
    c.deadline = c.waiting_since + lim.request_timeout;
  }
  if (c.parser.awaits_continue() && !c.continued) {
    // Best effort: a client that does not get it sends its body anyway.
    static constexpr char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t put = 0;
    write_some(c, go_on, sizeof(go_on) - 1, put);
    c.continued = true;
  }
  if (c.parser.status() == http_request_parser::state::complete)
    return submit(c);
  if (c.parser.status() == http_request_parser::state::failed) {
    metrics::http_connection("malformed");
    refuse(c, c.parser.error_status(), c.parser.error_message());
  }
}

void http_server::loop::submit(conn& c) {
  c.ph = conn::phase::handling;
  set_interest(c);
  job j{c.id, std::move(c.parser.request()), c.parser.keep_alive()};
  j.req.remote_addr = c.peer;
  {
    std::lock_guard<std::mutex> g{m};
    jobs.push_back(std::move(j));
  }
  cv.notify_one();
}

void http_server::loop::write(conn& c) {
  while (true) {
    if (c.out_off == c.out.size() && c.ph == conn::phase::streaming) {
      c.out.clear();
      c.out_off = 0;
      if (c.stream_done)
        return after_reply(c);
      if (!refill(c))
        return;
      if (!c.out.empty())
        continue;
      // Sent all there is: wait for more (no deadline), or the client's
      // hang-up.
      c.want = EPOLLIN;
      c.deadline = steady::time_point::max();
      return set_interest(c);
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
      if (!fill_body(c))
        return close(c, "body_failed");
      if (c.out.empty())
        return after_reply(c);
    }
    size_t put = 0;
    auto r = write_some(c, c.out.data() + c.out_off, c.out.size() - c.out_off, put);
    if (r == io::closed)
      return close(c, "peer_closed");
    if (r != io::ok) {
      c.want = r == io::want_read ? EPOLLIN : EPOLLOUT;
      return set_interest(c);
    }
    c.out_off += put;
    c.deadline = steady::now() + lim.request_timeout; // progress
  }
}

// The next piece of a streamed body into `out` (nothing when it is all out).
// An answer the I/O thread gives itself (a malformed request): then close.
// From a producer's thread: the I/O thread sends what it wrote.
// The producer wrote: sent now, unless the connection still sends an
// earlier batch (then `write` takes it when that is out).
// The next batch of a stream into `out` (it is empty): the producer's
// buffer holds the rest, so a client that stops reading costs at most one
// batch here and the stream's bound there. false: closed (overflow).
// A streaming client sends nothing more we read: its bytes are dropped,
// its hang-up closes the stream.
// The server stops: every producer learns its stream ended.
void http_server::loop::expire(steady::time_point now) {
  std::vector<conn*> late;
  for (auto& [id, c] : conns)
    if (c->ph != conn::phase::handling && c->ph != conn::phase::closed && now >= c->deadline)
      late.push_back(c.get());
  for (auto* c : late) {
    bool idle = c->ph == conn::phase::reading && !c->parser.started();
    close(*c, idle ? "idle" : "timed_out");
  }
}

void http_server::loop::close(conn& c, const char* why) {
  if (c.ph == conn::phase::closed)
    return;
  if (why != nullptr && std::string_view{why} != "peer_closed") {
    metrics::http_connection(why);
    if (std::string_view{why} != "idle")
      log::debug("http_connection_closed", {{"peer", c.peer}, {"reason", why}});
  }
  metrics::http_connection("closed");
  if (c.stream) {
    c.stream->end();
    c.stream.reset();
  }
  if (c.ssl != nullptr) {
    if (c.ph != conn::phase::handshake)
      SSL_shutdown(c.ssl); // best effort, never waited for
    SSL_free(c.ssl);
  }
  c.ssl = nullptr;
  ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  c.fd = -1;
  c.ph = conn::phase::closed;
  graveyard.push_back(c.id);
}

// Frees closed connections (never while a call on one may still look at it).
void http_server::loop::reap() {
  for (auto id : graveyard)
    conns.erase(id);
  graveyard.clear();
}

// The connection waits (phase handling) until `d` completes, on whichever
// thread that happens.
http_server::http_server(size_t threads, http_security sec, http_limits lim)
  : sec_(std::move(sec)), lim_(lim), threads_(threads) {
}

http_server::~http_server() {
  stop();
}

caf::expected<uint16_t> http_server::start(const std::string& ip, uint16_t port) {
  auto l = std::make_unique<loop>(router_, sec_, lim_);
  if (sec_.https()) {
    std::string why;
    l->ctx = https_context(sec_, why);
    if (l->ctx == nullptr)
      return make_error(errc::invalid_config, "cannot serve HTTPS with certificate '"
                                                + sec_.certificate + "' and key '" + sec_.key
                                                + "': " + why);
  }
  auto bound = l->open(ip, port);
  if (!bound)
    return bound.error();
  make_fd_room(lim_.max_connections);
  l->start_threads(threads_);
  loop_ = std::move(l);
  return *bound;
}

void http_server::stop() {
  loop_.reset();
}

} // namespace caldera
