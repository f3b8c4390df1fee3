// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/detail/host.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <utility>

#include <pthread.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "actorflow/detail/atoms.hpp"

namespace actorflow::detail {

namespace {

thread_local host* current_host = nullptr;

std::atomic<uint64_t> endpoint_ids{0};

uint64_t draw_tag() noexcept {
  uint64_t x = 0;
  try {
    std::random_device rd;
    x = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  } catch (...) {
    // no entropy source: pid and clock below still separate processes
  }
  x ^= static_cast<uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull;
  x ^= static_cast<uint64_t>(
    std::chrono::steady_clock::now().time_since_epoch().count());
  x ^= static_cast<uint64_t>(
         std::chrono::system_clock::now().time_since_epoch().count())
       << 17;
  return x != 0 ? x : 1;
}

std::atomic<uint64_t> tag{0};

void redraw_tag_in_child() {
  // A forked child would otherwise reuse its parent's ids.
  tag.store(draw_tag(), std::memory_order_relaxed);
  endpoint_ids.store(0, std::memory_order_relaxed);
}

uint64_t init_tag() noexcept {
  static const bool registered = [] {
    tag.store(draw_tag(), std::memory_order_relaxed);
    ::pthread_atfork(nullptr, nullptr, redraw_tag_in_child);
    return true;
  }();
  static_cast<void>(registered);
  return tag.load(std::memory_order_relaxed);
}

} // namespace

uint64_t process_tag() noexcept {
  return init_tag();
}

endpoint_id next_endpoint_id() noexcept {
  auto t = init_tag();
  return endpoint_id{t,
                     endpoint_ids.fetch_add(1, std::memory_order_relaxed) + 1};
}

stopped::~stopped() {
  // nop
}

const char* stopped::what() const noexcept {
  return "the worker was asked to stop";
}

void throw_stopped() {
  throw stopped{};
}

void throw_if_stopped() {
  if (auto self = host::current(); self != nullptr && self->stop_requested())
    throw_stopped();
}

endpoint::~endpoint() {
  // nop
}

host::host(caf::actor_config& cfg) : caf::event_based_actor(cfg) {
  set_default_handler(
    [this](caf::scheduled_actor*,
           caf::message_view& view) -> caf::result<caf::message> {
      activation guard{this};
      auto& xs = view.content();
      if (xs.size() >= 2 && xs.match_element<endpoint_id>(1)) {
        auto i = endpoints_.find(xs.get_as<endpoint_id>(1));
        if (i != endpoints_.end())
          i->second->handle(xs);
        else
          on_orphan(view);
      } else if (xs.size() == 1 && xs.match_element<drain_atom>(0)) {
        on_drain_request();
        settle();
        // The answer to a request: whoever asked knows that what it sent
        // before reached this host (see node.cpp).
        return caf::make_message(drain_atom::value);
      }
      settle();
      return caf::message{};
    });
  set_down_handler([this](caf::scheduled_actor*, caf::down_msg& dm) {
    activation guard{this};
    auto [first, last] = on_down_.equal_range(dm.source);
    for (auto i = first; i != last; ++i) {
      if (i->second.reason != nullptr)
        *i->second.reason = dm.reason;
      ready_.push_back(i->second.h);
    }
    on_down_.erase(first, last);
    auto [cfirst, clast] = down_callbacks_.equal_range(dm.source);
    if (cfirst != clast) {
      std::vector<std::function<void(const caf::error&)>> fs;
      for (auto i = cfirst; i != clast; ++i)
        fs.push_back(std::move(i->second));
      down_callbacks_.erase(cfirst, clast);
      for (auto& f : fs)
        f(dm.reason);
    }
    settle();
  });
}

host::~host() {
  // nop
}

host* host::current() noexcept {
  return current_host;
}

host::activation::activation(host* self) noexcept : prev_(current_host) {
  current_host = self;
}

host::activation::~activation() {
  current_host = prev_;
}

void host::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  if (ptr != nullptr) {
    auto& xs = ptr->content();
    if (xs.match_elements<caf::exit_msg>()) {
      auto& reason = xs.get_as<caf::exit_msg>(0).reason;
      if (reason && reason != caf::exit_reason::normal)
        stop_.store(true, std::memory_order_relaxed);
    }
  }
  caf::event_based_actor::enqueue(std::move(ptr), eu);
}

void host::add_endpoint(endpoint* ep) {
  endpoints_.emplace(ep->id(), ep);
}

void host::remove_endpoint(endpoint* ep) noexcept {
  endpoints_.erase(ep->id());
  if (ep->dirty) {
    ep->dirty = false;
    dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), ep), dirty_.end());
  }
}

void host::mark_dirty(endpoint* ep) {
  if (!ep->dirty) {
    ep->dirty = true;
    dirty_.push_back(ep);
  }
}

void host::make_ready(std::coroutine_handle<> h) {
  ready_.push_back(h);
}

void host::resume_from_callback(std::coroutine_handle<> h) {
  activation guard{this};
  make_ready(h);
  settle();
}

void host::resume_on_down(const caf::actor_addr& whom,
                          std::coroutine_handle<> h, caf::error* reason) {
  on_down_.emplace(whom, down_waiter{h, reason});
  monitor(whom);
}

void host::when_down(const caf::actor_addr& whom,
                     std::function<void(const caf::error&)> f) {
  down_callbacks_.emplace(whom, std::move(f));
  monitor(whom);
}

void host::settle() {
  // A stage is busy from resuming its coroutine to the end of the
  // activation (flushing what it produced included). Activations that only
  // handle protocol messages (credit, read-ahead) leave the stage in the
  // state it waits in, and cost no clock reading.
  bool timed = probe_ != nullptr && !ready_.empty();
  if (timed)
    probe_->enter();
  // Adaptive read-ahead (see `time_runs`) wants to know how long the
  // coroutines ran.
  bool run_timed = timed_ && !ready_.empty();
  int64_t t0 = run_timed ? probe_clock() : 0;
  while (!ready_.empty()) {
    // A suspension that no endpoint explains (ask, awaiting a worker, ...)
    // counts as waiting.
    wait_ = stage_state::waiting;
    running_.swap(ready_);
    for (auto h : running_)
      h.resume();
    running_.clear();
  }
  if (timed_)
    last_run_ns_ = run_timed ? static_cast<uint64_t>(
                     static_cast<double>(probe_clock() - t0) * probe_tick_ns())
                             : 0;
  // flush() never resumes coroutines, but a flush may remove endpoints
  // (never others than itself), so iterate over a stable copy.
  while (!dirty_.empty()) {
    auto ep = dirty_.back();
    dirty_.pop_back();
    ep->dirty = false;
    ep->flush();
  }
  after_activation();
  if (timed)
    probe_->leave(wait_); // a no-op if the stage ended meanwhile
}

void host::on_orphan(caf::message_view& view) {
  auto& xs = view.content();
  if (xs.match_element<close_ack_atom>(0)) {
    if (pending_acks_ > 0 && --pending_acks_ == 0)
      try_quit();
  } else if (xs.match_element<items_atom>(0)
             || xs.match_element<rx_gone_atom>(0)) {
    // Items for an endpoint that closed meanwhile: the channel takes them back.
    if (auto& src = current_sender())
      send(caf::actor_cast<caf::actor>(src), view.move_content_to_message());
  }
}

size_t host::on_drain(std::function<void()> f) {
  auto key = ++next_drain_key_;
  if (drain_requested_)
    f();
  drain_hooks_.emplace_back(key, std::move(f));
  return key;
}

void host::forget_drain(size_t key) noexcept {
  auto i = std::find_if(drain_hooks_.begin(), drain_hooks_.end(),
                        [key](const auto& x) { return x.first == key; });
  if (i != drain_hooks_.end())
    drain_hooks_.erase(i);
}

void host::on_drain_request() {
  if (std::exchange(drain_requested_, true))
    return;
  // A hook may forget itself (or another) while it runs.
  auto hooks = drain_hooks_;
  for (auto& [key, f] : hooks)
    f();
}

void host::finish(caf::error reason) {
  if (finishing_)
    return;
  finishing_ = true;
  reason_ = std::move(reason);
  try_quit();
}

void host::try_quit() {
  if (finishing_ && pending_acks_ == 0 && !quit_called_) {
    quit_called_ = true;
    quit(std::move(reason_));
  }
}

caf::behavior host::make_behavior() {
  {
    activation guard{this};
    start();
    settle();
  }
  if (quit_called_)
    return {};
  return {
    [](caf::unit_t) {
      // nop: every protocol message goes through the default handler
    },
  };
}

const char* host::name() const {
  return "actorflow.host";
}

} // namespace actorflow::detail
