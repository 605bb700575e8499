#include "actors/tls.hpp"

#include <csignal>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <caf/io/basp_broker.hpp>
#include <caf/io/doorman.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/stream.hpp>
#include <caf/io/scribe.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/log.hpp"
#include "actors/wire_guard.hpp"

namespace caldera {

namespace {

using caf::io::network::native_socket;
using caf::io::network::operation;
using caf::io::network::rw_state;
using ctx_ptr = std::shared_ptr<SSL_CTX>;

std::string ssl_errors() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? std::string{"unknown OpenSSL error"} : out;
}

std::string named(const char* option, const std::string& file) {
  return std::string{"option 'openssl."} + option + "' ('" + file + "')";
}

std::optional<std::string> unreadable(const char* option, const std::string& file) {
  std::ifstream in{file};
  if (in)
    return std::nullopt;
  return named(option, file) + ": cannot read the file";
}

int passphrase_cb(char* buf, int size, int, void* user) {
  auto* pass = static_cast<const std::string*>(user);
  auto n = std::min(pass->size(), static_cast<size_t>(size - 1));
  pass->copy(buf, n);
  buf[n] = '\0';
  return static_cast<int>(n);
}

std::optional<std::string> missing_file(const tls_files& f) {
  const char* need = "mutual TLS needs openssl.certificate, openssl.key and "
                     "openssl.cafile (or openssl.capath)";
  if (f.certificate.empty())
    return std::string{"option 'openssl.certificate' is not set: "} + need;
  if (f.key.empty())
    return std::string{"option 'openssl.key' is not set: "} + need;
  if (f.cafile.empty() && f.capath.empty())
    return std::string{"option 'openssl.cafile' is not set: "} + need;
  if (auto why = unreadable("certificate", f.certificate))
    return why;
  if (auto why = unreadable("key", f.key))
    return why;
  if (!f.cafile.empty())
    return unreadable("cafile", f.cafile);
  return std::nullopt;
}

std::optional<std::string> load_identity(SSL_CTX* ctx, const tls_files& f) {
  if (SSL_CTX_use_certificate_chain_file(ctx, f.certificate.c_str()) != 1)
    return named("certificate", f.certificate) + ": " + ssl_errors();
  SSL_CTX_set_default_passwd_cb(ctx, passphrase_cb);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&f.passphrase));
  auto loaded = SSL_CTX_use_PrivateKey_file(ctx, f.key.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (loaded != 1 && ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
    loaded = -2;
  if (loaded == -2 || (loaded == 1 && SSL_CTX_check_private_key(ctx) != 1)) {
    ERR_clear_error();
    return named("key", f.key) + " does not belong to " + named("certificate", f.certificate);
  }
  if (loaded != 1)
    return named("key", f.key) + ": " + ssl_errors();
  return std::nullopt;
}

std::optional<std::string> load_trust(SSL_CTX* ctx, const tls_files& f) {
  auto* file = f.cafile.empty() ? nullptr : f.cafile.c_str();
  auto* path = f.capath.empty() ? nullptr : f.capath.c_str();
  if (SSL_CTX_load_verify_locations(ctx, file, path) != 1)
    return named(file ? "cafile" : "capath", file ? f.cafile : f.capath) + ": " + ssl_errors();
  // The node's own certificate must pass the check its peers will make.
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> check{X509_STORE_CTX_new(),
                                                                       X509_STORE_CTX_free};
  if (!check
      || X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx),
                             SSL_CTX_get0_certificate(ctx), nullptr) != 1)
    return std::string{"cannot check the certificate: "} + ssl_errors();
  if (X509_verify_cert(check.get()) != 1)
    return named("certificate", f.certificate) + " does not verify against "
           + named(file ? "cafile" : "capath", file ? f.cafile : f.capath) + ": "
           + X509_verify_cert_error_string(X509_STORE_CTX_get_error(check.get()));
  return std::nullopt;
}

struct context_result {
  ctx_ptr ctx;
  std::optional<std::string> error;
};

bool same_files(const tls_files& a, const tls_files& b) {
  return a.certificate == b.certificate && a.key == b.key && a.passphrase == b.passphrase
         && a.cafile == b.cafile && a.capath == b.capath;
}

// The context `check_tls` built at start, kept for the module that starts
// next with the same files: a process (an executor above all) loads and
// checks its files once, not twice.
struct checked_context {
  std::mutex mtx;
  tls_files files;
  ctx_ptr ctx;
};

checked_context& checked() {
  static checked_context c;
  return c;
}

context_result make_context(const tls_files& f) {
  if (auto why = missing_file(f))
    return {nullptr, why};
  ctx_ptr ctx{SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx)
    return {nullptr, "cannot create a TLS context: " + ssl_errors()};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  // No session tickets: nothing resumes, and no write after the handshake.
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE
                                | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (auto why = load_identity(ctx.get(), f))
    return {nullptr, why};
  if (auto why = load_trust(ctx.get(), f))
    return {nullptr, why};
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return {std::move(ctx), std::nullopt};
}

std::string peer_of(native_socket fd) {
  auto addr = caf::io::network::remote_addr_of_fd(fd);
  auto port = caf::io::network::remote_port_of_fd(fd);
  return (addr ? *addr : std::string{"?"}) + ":" + (port ? std::to_string(*port) : "?");
}

// A TLS stream, its own read/write policy. While the handshake waits for the
// peer, a pending write leaves the event loop ("parked") instead of being
// retried on every writable event, and comes back once the peer has spoken.
class tls_stream : public caf::io::network::stream {
public:
  tls_stream(caf::io::network::default_multiplexer& mx, native_socket fd, SSL* ssl)
    : stream(mx, fd), ssl_(ssl), peer_(peer_of(fd)) {
  }

  const std::string& peer() const {
    return peer_;
  }

  ~tls_stream() override {
    SSL_free(ssl_);
  }

  // The scribe that owns this stream (a plain pointer: a counted one would
  // keep the scribe alive forever).
  void set_manager(caf::io::network::stream_manager* mgr) {
    mgr_ = mgr;
  }

  void handle_event(operation op) override {
    handle_event_impl(op, *this);
    after_event();
  }

  // The policy handle_event_impl calls.
  rw_state read_some(size_t& n, native_socket, void* buf, size_t len) {
    n = 0;
    if (auto s = handshake(); s != rw_state::success || !established_)
      return s;
    auto r = SSL_read(ssl_, buf, static_cast<int>(len));
    if (r > 0) {
      n = static_cast<size_t>(r);
      return rw_state::success;
    }
    return io_result(r);
  }

  rw_state write_some(size_t& n, native_socket, const void* buf, size_t len) {
    n = 0;
    if (auto s = handshake(); s != rw_state::success)
      return s;
    if (len == 0)
      return rw_state::indeterminate; // nothing to write: leave the loop
    if (!established_) {
      park_ = want_ == SSL_ERROR_WANT_READ;
      return rw_state::success;
    }
    auto r = SSL_write(ssl_, buf, static_cast<int>(len));
    if (r > 0) {
      n = static_cast<size_t>(r);
      return rw_state::success;
    }
    auto s = io_result(r);
    park_ = s == rw_state::success && want_ == SSL_ERROR_WANT_READ;
    return s;
  }

  bool must_read_more(native_socket, size_t threshold) {
    return static_cast<size_t>(SSL_pending(ssl_)) >= threshold;
  }

private:
  rw_state handshake() {
    if (established_)
      return rw_state::success;
    auto r = SSL_do_handshake(ssl_);
    if (r == 1) {
      established_ = true;
      want_ = SSL_ERROR_NONE;
      return rw_state::success;
    }
    want_ = SSL_get_error(ssl_, r);
    if (want_ == SSL_ERROR_WANT_READ || want_ == SSL_ERROR_WANT_WRITE)
      return rw_state::success;
    log::warn("tls_handshake_failed", {{"peer", peer_}, {"reason", ssl_errors()}});
    return rw_state::failure;
  }

  rw_state io_result(int r) {
    want_ = SSL_get_error(ssl_, r);
    if (want_ == SSL_ERROR_WANT_READ || want_ == SSL_ERROR_WANT_WRITE)
      return rw_state::success;
    ERR_clear_error();
    return rw_state::failure; // closed by the peer, or broken
  }

  // Parks a write that waits for the peer; brings it back when the peer
  // has spoken (or the handshake wants to write).
  void after_event() {
    if (park_ && !parked_) {
      parked_ = true;
      backend().del(operation::write, fd(), this);
      return;
    }
    bool can_go = established_ || want_ == SSL_ERROR_WANT_WRITE;
    if (parked_ && can_go) {
      parked_ = park_ = false;
      resume_writes();
    } else if (!established_ && want_ == SSL_ERROR_WANT_WRITE && !state_.writing) {
      resume_writes();
    }
  }

  void resume_writes() {
    if (mgr_ == nullptr)
      return;
    state_.writing = false;
    force_empty_write(manager_ptr{mgr_});
  }

  SSL* ssl_;
  std::string peer_;
  caf::io::network::stream_manager* mgr_ = nullptr;
  bool established_ = false;
  int want_ = SSL_ERROR_NONE;
  bool park_ = false;
  bool parked_ = false;
};

class tls_scribe : public caf::io::scribe {
public:
  tls_scribe(guarded_multiplexer& mx, native_socket fd, SSL* ssl)
    : scribe(caf::io::network::conn_hdl_from_socket(fd)), guard_(mx, fd), stream_(mx, fd, ssl) {
  }

  void configure_read(caf::io::receive_policy::config cfg) override {
    stream_.configure_read(guard_.check(cfg, stream_.peer()));
    if (!launched_)
      launch();
  }

  bool consume(caf::execution_unit* ctx, const void* buf, size_t n) override {
    guard_.consumed();
    return scribe::consume(ctx, buf, n);
  }

  void ack_writes(bool enable) override { stream_.ack_writes(enable); }
  std::vector<char>& wr_buf() override { return stream_.wr_buf(); }
  std::vector<char>& rd_buf() override { return stream_.rd_buf(); }
  void flush() override { stream_.flush(this); }
  void add_to_loop() override { stream_.activate(this); }
  void remove_from_loop() override { stream_.passivate(); }

  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }

  std::string addr() const override {
    auto x = caf::io::network::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }

  uint16_t port() const override {
    auto x = caf::io::network::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }

private:
  // Starts reading and kicks off the handshake with an empty write.
  void launch() {
    launched_ = true;
    stream_.set_manager(this);
    stream_.start(this);
    stream_.force_empty_write(this);
  }

  frame_guard guard_;
  tls_stream stream_;
  bool launched_ = false;
};

SSL* new_session(const ctx_ptr& ctx, native_socket fd, bool accepted) {
  auto* ssl = SSL_new(ctx.get());
  if (ssl == nullptr)
    return nullptr;
  SSL_set_fd(ssl, fd);
  if (accepted)
    SSL_set_accept_state(ssl);
  else
    SSL_set_connect_state(ssl);
  return ssl;
}

class tls_doorman : public caf::io::network::doorman_impl {
public:
  tls_doorman(guarded_multiplexer& mx, native_socket fd, ctx_ptr ctx)
    : doorman_impl(mx, fd), mx_(mx), ctx_(std::move(ctx)) {
  }

  bool new_connection() override {
    if (detached())
      return false;
    auto fd = acceptor_.accepted_socket();
    caf::io::network::nonblocking(fd, true);
    auto* ssl = new_session(ctx_, fd, true);
    if (ssl == nullptr) {
      log::error("tls_session_failed", {{"reason", ssl_errors()}});
      caf::io::network::close_socket(fd);
      return false;
    }
    auto s = caf::make_counted<tls_scribe>(mx_, fd, ssl);
    auto hdl = s->hdl();
    parent()->add_scribe(std::move(s));
    return doorman::new_connection(&mx_, hdl);
  }

private:
  guarded_multiplexer& mx_;
  ctx_ptr ctx_;
};

class tls_middleman : public caf::io::middleman_actor_impl {
public:
  tls_middleman(caf::actor_config& cfg, caf::actor broker, guarded_multiplexer* mx, ctx_ptr ctx)
    : middleman_actor_impl(cfg, std::move(broker)), mx_(*mx), ctx_(std::move(ctx)) {
  }

  const char* name() const override {
    return "caldera.tls_middleman";
  }

protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host, uint16_t port) override {
    auto fd = caf::io::network::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    caf::io::network::nonblocking(*fd, true);
    auto* ssl = new_session(ctx_, *fd, false);
    if (ssl == nullptr) {
      caf::io::network::close_socket(*fd);
      return caf::make_error(caf::sec::cannot_connect_to_node, "TLS: " + ssl_errors());
    }
    return caf::make_counted<tls_scribe>(mx_, *fd, ssl);
  }

  caf::expected<caf::io::doorman_ptr> open(uint16_t port, const char* addr, bool reuse) override {
    auto fd = caf::io::network::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return caf::make_counted<tls_doorman>(mx_, *fd, ctx_);
  }

private:
  guarded_multiplexer& mx_;
  ctx_ptr ctx_;
};

} // namespace

bool tls_files::enabled() const {
  return !certificate.empty() || !key.empty() || !passphrase.empty() || !cafile.empty()
         || !capath.empty();
}

tls_files tls_files_of(const caf::actor_system_config& cfg) {
  return {cfg.openssl_certificate, cfg.openssl_key, cfg.openssl_passphrase, cfg.openssl_cafile,
          cfg.openssl_capath};
}

std::optional<std::string> check_tls(const tls_files& files) {
  if (!files.enabled())
    return std::nullopt;
  auto made = make_context(files);
  if (made.ctx) {
    auto& c = checked();
    std::lock_guard<std::mutex> g{c.mtx};
    c.files = files;
    c.ctx = made.ctx;
  }
  return made.error;
}

tls_module::tls_module(caf::actor_system& sys) : sys_(sys) {
}

tls_module::~tls_module() = default;

void tls_module::init(caf::actor_system_config&) {
}

// A context that cannot be made here was checked at start (check_tls), so
// its files changed since: never fall back to plain links.
void tls_module::start() {
  auto files = tls_files_of(sys_.config());
  if (!files.enabled())
    return;
  auto* mx = wire_guard_of(sys_);
  if (mx == nullptr)
    throw std::logic_error("TLS links need the guarded multiplexer");
  context_result made;
  {
    auto& c = checked();
    std::lock_guard<std::mutex> g{c.mtx};
    if (c.ctx && same_files(c.files, files))
      made.ctx = c.ctx;
  }
  if (!made.ctx)
    made = make_context(files);
  if (made.error) {
    log::error("tls_unusable", {{"reason", *made.error}});
    throw std::runtime_error(*made.error);
  }
  // OpenSSL writes to sockets itself: a peer gone mid-write must not kill
  // the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  auto broker = sys_.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  links_ = sys_.spawn<tls_middleman, caf::detached + caf::hidden>(std::move(broker), mx,
                                                                  std::move(made.ctx));
  mx->tls_links = links_;
}

void tls_module::stop() {
  if (!links_)
    return;
  if (auto* mx = wire_guard_of(sys_))
    mx->tls_links = nullptr;
  caf::scoped_actor self{sys_, true};
  self->send_exit(links_, caf::exit_reason::kill);
  self->wait_for(links_);
  links_ = nullptr;
}

caf::actor_system::module::id_t tls_module::id() const {
  return caf::actor_system::module::openssl_manager;
}

void* tls_module::subtype_ptr() {
  return this;
}

caf::actor_system::module* tls_module::make(caf::actor_system& sys, caf::detail::type_list<>) {
  return new tls_module(sys);
}

caf::io::middleman_actor link_manager(caf::actor_system& sys) {
  if (auto* mx = wire_guard_of(sys); mx != nullptr && mx->tls_links)
    return mx->tls_links;
  return sys.middleman().actor_handle();
}

bool tls_enabled(caf::actor_system& sys) {
  auto* mx = wire_guard_of(sys);
  return mx != nullptr && mx->tls_links;
}

} // namespace caldera
