// This file is part of actorflow. See README.md for the project's license.

#include "actorflow/remote/wire.hpp"

#include <atomic>
#include <mutex>
#include <unordered_map>

namespace actorflow::detail {

namespace {

struct type_table {
  std::mutex mtx;
  std::unordered_map<std::type_index, item_type_info> types;
};

type_table& table() {
  static type_table instance;
  return instance;
}

std::atomic<uint64_t> rejected{0};

} // namespace

void count_rejected_batch() noexcept {
  rejected.fetch_add(1, std::memory_order_relaxed);
}

uint64_t rejected_batches() noexcept {
  return rejected.load(std::memory_order_relaxed);
}

void remember_item_type(std::type_index type, item_type_info info) {
  auto& t = table();
  std::lock_guard guard{t.mtx};
  t.types.emplace(type, std::move(info));
}

const item_type_info* find_item_type(std::type_index type) {
  auto& t = table();
  std::lock_guard guard{t.mtx};
  auto i = t.types.find(type);
  // Entries are never erased, so the pointer stays valid.
  return i != t.types.end() ? &i->second : nullptr;
}

void add_wire_types(caf::actor_system_config& cfg) {
  add_caf_type<endpoint_id>(cfg, "actorflow::endpoint_id");
  add_caf_type<wire_handle>(cfg, "actorflow::remote_handle");
}

} // namespace actorflow::detail
