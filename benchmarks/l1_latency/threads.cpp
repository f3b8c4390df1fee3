// This file is part of actorflow. See README.md for the project's license.
//
// l1_latency/threads.cpp: L1 through std::threads over bounded
// mutex/condvar queues, one item per push/pop.

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "l1_latency/l1.hpp"

namespace bench {

namespace {

/// A bounded blocking queue; `close` ends it once the producers are done.
class queue {
public:
  explicit queue(size_t capacity) : capacity_(capacity) {
    // nop
  }

  void push(const l1_item& x) {
    std::unique_lock guard{mtx_};
    not_full_.wait(guard, [&] { return items_.size() < capacity_; });
    items_.push_back(x);
    not_empty_.notify_one();
  }

  std::optional<l1_item> pop() {
    std::unique_lock guard{mtx_};
    not_empty_.wait(guard, [&] { return !items_.empty() || closed_; });
    if (items_.empty())
      return std::nullopt;
    auto x = items_.front();
    items_.pop_front();
    not_full_.notify_one();
    return x;
  }

  void close() {
    std::lock_guard guard{mtx_};
    closed_ = true;
    not_empty_.notify_all();
  }

private:
  size_t capacity_;
  std::mutex mtx_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<l1_item> items_;
  bool closed_ = false;
};

} // namespace

std::vector<int64_t> run_threads(const l1_options& opt, double rate,
                                 int64_t n) {
  auto cap = opt.capacity != 0
               ? opt.capacity
               : std::clamp<size_t>(65536 / sizeof(l1_item), 1024, 16384);
  queue in{cap};
  queue work{cap};
  queue done{cap};
  l1_sink sink{n};
  std::thread first{[&] {
    while (auto x = in.pop())
      work.push(l1_first(*x));
    work.close();
  }};
  std::atomic<int> workers{2};
  auto second = [&] {
    while (auto x = work.pop())
      done.push(l1_second(*x));
    if (--workers == 0)
      done.close();
  };
  std::thread w1{second};
  std::thread w2{second};
  std::thread last{[&] {
    std::map<uint64_t, l1_item> held;
    uint64_t next = 0;
    while (auto x = done.pop()) {
      held.emplace(x->seq, *x);
      for (auto i = held.begin(); i != held.end() && i->first == next;
           i = held.erase(i), ++next)
        sink(i->second);
    }
  }};
  feed(rate, n, [&](l1_item x) { in.push(x); });
  in.close();
  for (auto* t : {&first, &w1, &w2, &last})
    t->join();
  return sink.take("threads");
}

} // namespace bench
