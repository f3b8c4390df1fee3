// This file is part of actorflow. See README.md for the project's license.

#pragma once

// Channels across processes. A channel's mailbox (its channel actor) lives in
// one process; its ends may live in others, connected by CAF's middleman.
// Credits, items and end-of-stream travel as the same CAF messages as in one
// process, so the channel's bound holds across the wire.
//
// Every item type that crosses the wire is registered once per process with
// `add_item_type<T>(cfg, "name")`, under the same name in every process.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/make_type_erased_value.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/send.hpp>
#include <caf/serializer.hpp>
#include <caf/type_nr.hpp>

#include "actorflow/detail/atoms.hpp"
#include "actorflow/detail/batch.hpp"
#include "actorflow/detail/endpoint_id.hpp"
#include "actorflow/detail/export.hpp"
#include "actorflow/detail/rx_endpoint.hpp"
#include "actorflow/detail/tx_endpoint.hpp"
#include "actorflow/receiver.hpp"
#include "actorflow/sender.hpp"

namespace actorflow {

namespace detail {

/// A serializable reference to one channel end that was opened for another
/// process (see `export_handle`).
struct wire_handle {
  caf::actor channel;
  uint32_t capacity = 0;
  uint32_t batch = 0;
  /// The channel's adaptive read-ahead (see `channel_params::read_ahead_ns`).
  uint32_t read_ahead_ns = 0;
  endpoint_id id;
  /// 1: a sender, 2: a receiver.
  uint8_t kind = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_handle& x) {
  return f(caf::meta::type_name("actorflow::remote_handle"), x.channel,
           x.capacity, x.batch, x.read_ahead_ns, x.id, x.kind);
}

/// True if `h` names a channel end of kind `kind` with settings a channel
/// can have (a handle from a peer is checked before it is imported).
inline bool well_formed(const wire_handle& h, uint8_t kind) noexcept {
  return h.kind == kind && h.channel && h.capacity >= 1
         && h.capacity <= max_channel_capacity && h.batch >= 1
         && h.batch <= h.capacity;
}

/// What this process knows about an item type registered by `add_item_type`.
struct item_type_info {
  std::string name;
  /// sizeof, alignof and trivially-copyable: "s8a4t1". Compared between a
  /// driver and a node to detect different builds of a type with one name.
  std::string layout;
};

ACTORFLOW_EXPORT void remember_item_type(std::type_index type,
                                         item_type_info info);

/// Returns the registered info of `type`, or nullptr.
ACTORFLOW_EXPORT const item_type_info* find_item_type(std::type_index type);

/// Concatenates `xs` (g++ 12 warns falsely about `"literal" + string`).
inline std::string concat(std::initializer_list<std::string_view> xs) {
  std::string result;
  for (auto x : xs)
    result.append(x.data(), x.size());
  return result;
}

template <class T>
std::string layout_of() {
  auto s = std::to_string(sizeof(T));
  auto a = std::to_string(alignof(T));
  return concat(
    {"s", s, "a", a, "t", std::is_trivially_copyable_v<T> ? "1" : "0"});
}

/// Registers `T` under `name` with CAF (idempotent; builtin types skipped).
template <class T>
void add_caf_type(caf::actor_system_config& cfg, const std::string& name) {
  if constexpr (caf::type_nr<T>::value == 0) {
    std::type_index rtti{typeid(T)};
    cfg.type_names_by_rtti.emplace(rtti, name);
    cfg.value_factories_by_name.emplace(name, &caf::make_type_erased_value<T>);
    cfg.value_factories_by_rtti.emplace(rtti, &caf::make_type_erased_value<T>);
  }
}

/// Registers the types of the channel protocol itself.
ACTORFLOW_EXPORT void add_wire_types(caf::actor_system_config& cfg);

/// An item with its sequence number: the jobs and results of a distributed
/// stage. An aggregate (unlike `std::pair`), so trivially copyable if `T` is
/// and its batches travel as one block of bytes.
template <class T>
struct job {
  uint64_t first = 0;
  T second{};
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, job<T>& x) {
  return f(caf::meta::type_name("actorflow::job"), x.first, x.second);
}

/// True if CAF can serialize a `T` on its own: a builtin type, or a type
/// with an `inspect` overload.
template <class T>
constexpr bool is_serializable
  = caf::type_nr<T>::value != 0
    || std::is_arithmetic_v<
      T> || caf::detail::is_inspectable<caf::serializer, T>::value;

} // namespace detail

/// Registers the item type `T` under `name` for use across processes: `T`
/// itself, a batch of `T` (the channel protocol's payload), `std::vector<T>`,
/// the (sequence number, item) pairs that parallel stages send and their
/// batches, and the protocol's own types. Call it before constructing the
/// actor system, in every process, with the same name everywhere. `T` needs
/// an `inspect` overload (see CAF's manual) unless it is trivially copyable
/// (then it crosses the wire inside batches only, not as a message element
/// of its own).
///
/// Batches of a trivially copyable `T` travel as one block of bytes (the
/// processes must agree on its layout and byte order, which is checked).
///
/// ~~~
/// caf::actor_system_config cfg;
/// actorflow::init(cfg);
/// actorflow::add_item_type<int32_t>(cfg, "int32");
/// actorflow::add_item_type<point>(cfg, "point");
/// ~~~
template <class T>
void add_item_type(caf::actor_system_config& cfg, const std::string& name) {
  static_assert(
    std::is_default_constructible_v<T> && std::is_copy_constructible_v<T>,
    "add_item_type<T>: T must be default and copy constructible "
    "(CAF 0.17 creates values from their type name)");
  static_assert(detail::is_serializable<T> || detail::is_blob_item<T>,
                "add_item_type<T>: T needs an inspect overload (see CAF's "
                "manual) unless it is trivially copyable");
  detail::add_wire_types(cfg);
  detail::remember_item_type(typeid(T), {name, detail::layout_of<T>()});
  using detail::concat;
  auto job = concat({"actorflow::job<", name, ">"});
  if constexpr (detail::is_serializable<T>) {
    detail::add_caf_type<T>(cfg, name);
    detail::add_caf_type<std::vector<T>>(cfg,
                                         concat({"std::vector<", name, ">"}));
    detail::add_caf_type<detail::job<T>>(cfg, job);
  }
  detail::add_caf_type<detail::batch<T>>(
    cfg, concat({"actorflow::batch<", name, ">"}));
  detail::add_caf_type<detail::batch<detail::job<T>>>(
    cfg, concat({"actorflow::batch<", job, ">"}));
}

/// A channel end opened for another process: send it in a CAF message to an
/// actor there, which turns it into a `sender<T>` or `receiver<T>` with
/// `import_sender` / `import_receiver`. Use it exactly once. The channel
/// counts the end from the moment it is exported, so it stays open until the
/// importing process closes its handle (or dies after binding it); an export
/// that is never imported keeps the channel open, unless it is abandoned.
using remote_handle = detail::wire_handle;

/// Opens another end of `tx`'s channel for use in another process.
///
/// ~~~
/// self->send(remote_worker, actorflow::export_handle(tx));
/// // remote side: [](actorflow::remote_handle& h) {
/// //   auto tx = actorflow::import_sender<int>(h); ... }
/// ~~~
template <class T>
remote_handle export_handle(const sender<T>& tx) {
  remote_handle h;
  if (auto& ep = tx.native_endpoint()) {
    h.channel = ep->channel();
    h.capacity = ep->params().capacity;
    h.batch = ep->params().batch;
    h.read_ahead_ns = ep->params().read_ahead_ns;
    h.id = detail::next_endpoint_id();
    h.kind = 1;
    caf::anon_send(h.channel, detail::open_tx_atom::value, h.id);
  }
  return h;
}

/// Opens another end of `rx`'s channel for use in another process.
template <class T>
remote_handle export_handle(const receiver<T>& rx) {
  remote_handle h;
  if (auto& ep = rx.native_endpoint()) {
    h.channel = ep->channel();
    h.capacity = ep->params().capacity;
    h.batch = ep->params().batch;
    h.read_ahead_ns = ep->params().read_ahead_ns;
    h.id = detail::next_endpoint_id();
    h.kind = 2;
    caf::anon_send(h.channel, detail::open_rx_atom::value, h.id);
  }
  return h;
}

/// Tells the channel that an exported end will never be imported (for
/// example because the process it was meant for is gone). A no-op for an end
/// that was imported and used: the channel drops that one when its actor
/// terminates.
inline void abandon(const remote_handle& h) {
  if (h.channel)
    caf::anon_send(h.channel, detail::abandon_atom::value, h.id);
}

/// Turns an exported sender end into a `sender<T>` of this process. Returns
/// an empty (invalid) handle if `h` is not a well-formed sender end.
template <class T>
sender<T> import_sender(const remote_handle& h) {
  if (!detail::well_formed(h, 1))
    return {};
  auto ep = std::make_shared<detail::tx_endpoint<T>>(
    h.channel, detail::channel_params{h.capacity, h.batch, 0, h.read_ahead_ns},
    h.id);
  return sender<T>{std::move(ep), std::make_shared<detail::channel_stats>()};
}

/// Turns an exported receiver end into a `receiver<T>` of this process.
/// Returns an empty (invalid) handle if `h` is not a well-formed receiver end.
template <class T>
receiver<T> import_receiver(const remote_handle& h) {
  if (!detail::well_formed(h, 2))
    return {};
  auto ep = std::make_shared<detail::rx_endpoint<T>>(
    h.channel, detail::channel_params{h.capacity, h.batch, 0, h.read_ahead_ns},
    h.id);
  return receiver<T>{std::move(ep), std::make_shared<detail::channel_stats>()};
}

} // namespace actorflow
