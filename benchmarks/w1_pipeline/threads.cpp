// This file is part of actorflow. See README.md for the project's license.
//
// w1_pipeline/threads.cpp: W1 on four std::threads joined by mutex/condvar
// queues: (c) one item per push/pop, (d) batches of items.

#include "w1_pipeline/w1.hpp"

namespace bench {

namespace {

/// Item-at-a-time ends over a queue of single items.
struct item_tx {
  bounded_queue<int>* q;
  void send(int x) {
    q->push(x);
  }
  void close() {
    q->close();
  }
};

struct item_rx {
  bounded_queue<int>* q;
  std::optional<int> recv() {
    return q->pop();
  }
};

/// Item-at-a-time ends over a queue of batches: the same stage code as the
/// naive pipeline, with the transport batched.
struct batch_tx {
  bounded_queue<std::vector<int>>* q;
  size_t batch;
  std::vector<int> buf = {};
  void send(int x) {
    if (buf.capacity() == 0)
      buf.reserve(batch);
    buf.push_back(x);
    if (buf.size() >= batch)
      flush();
  }
  void flush() {
    if (!buf.empty()) {
      auto n = buf.size();
      q->push(std::exchange(buf, {}), n);
    }
  }
  void close() {
    flush();
    q->close();
  }
};

struct batch_rx {
  bounded_queue<std::vector<int>>* q;
  std::vector<int> buf = {};
  size_t pos = 0;
  std::optional<int> recv() {
    while (pos == buf.size()) {
      auto b = q->pop();
      if (!b)
        return std::nullopt;
      buf = std::move(*b);
      pos = 0;
    }
    return buf[pos++];
  }
};

/// Runs source -> x+1 -> x*2 -> sink on 4 std::threads over 3 queues.
template <class Queue, class Tx, class Rx, class MakeTx>
uint64_t thread_pipeline(size_t capacity, int n, MakeTx make_tx) {
  Queue q1{capacity}, q2{capacity}, q3{capacity};
  uint64_t sum = 0;
  std::thread source{[&] {
    Tx tx = make_tx(&q1);
    for (int i = 0; i < n; ++i)
      tx.send(i);
    tx.close();
  }};
  std::thread add_one{[&] {
    Rx rx{&q1};
    Tx tx = make_tx(&q2);
    while (auto x = rx.recv())
      tx.send(*x + 1);
    tx.close();
  }};
  std::thread times_two{[&] {
    Rx rx{&q2};
    Tx tx = make_tx(&q3);
    while (auto x = rx.recv())
      tx.send(*x * 2);
    tx.close();
  }};
  std::thread sink{[&] {
    Rx rx{&q3};
    uint64_t acc = 0;
    while (auto x = rx.recv())
      acc += static_cast<uint64_t>(*x);
    sum = acc;
  }};
  source.join();
  add_one.join();
  times_two.join();
  sink.join();
  return sum;
}

} // namespace

double run_threads_naive(const w1_options& opt, int n) {
  auto t0 = clock_type::now();
  auto sum = thread_pipeline<bounded_queue<int>, item_tx, item_rx>(
    opt.capacity, n, [](bounded_queue<int>* q) { return item_tx{q}; });
  auto dt = seconds_since(t0);
  verify('c', n, sum);
  return dt;
}

double run_threads_batched(const w1_options& opt, int n) {
  auto batch = std::min(opt.queue_batch, opt.capacity);
  auto t0 = clock_type::now();
  auto sum
    = thread_pipeline<bounded_queue<std::vector<int>>, batch_tx, batch_rx>(
      opt.capacity, n, [batch](bounded_queue<std::vector<int>>* q) {
        return batch_tx{q, batch};
      });
  auto dt = seconds_since(t0);
  verify('d', n, sum);
  return dt;
}

} // namespace bench
