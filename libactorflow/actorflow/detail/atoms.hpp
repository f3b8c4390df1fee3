// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <caf/atom.hpp>

/// The channel protocol. Every message carries the endpoint id as its second
/// element so that one host actor can serve many endpoints of any item type.
///
/// To the channel actor:
///   (open_tx, id) / (open_rx, id)              a handle copy exists
///   (bind_tx, id, host) / (bind_rx, id, host)  replies go to `host`
///   (push, id, vector<T> items, u32 target_credit, u32 give_back)
///   (pull, id, u32 consumed, u32 demand)
///   (close_tx, id, vector<T> items, u32 give_back)
///   (close_rx, id, vector<T> unconsumed, u32 consumed)
///   (abandon, id): an end opened for another process that never bound (its
///                  process died first); bound ends are dropped on down_msg
///   (forget, id) -> bool: the process of an exported end is lost; drop the
///                  end now, bound or not (answers once done)
///
/// `id` is an `endpoint_id` (unique across processes); item vectors travel
/// as `batch<T>` (see batch.hpp for the wire format).
/// To a host actor:
///   (credit, id, u32 n), (items, id, vector<T>), (eos, id),
///   (rx_gone, id, vector<T> returned, u64 seen), (ring, id), (close_ack, id),
///   (recall, id): give unused credit back if idle (others wait for it)
///   (drain) -> (drain): leave gracefully (see host::on_drain); answered at
///                       once, so that a sender can wait until the messages
///                       it sent before reached this host's process
///
/// A host that receives items or returned items for an endpoint it no longer
/// has bounces the message back to the channel unchanged. A host does not
/// terminate before the channel acknowledged the close of each of its
/// endpoints, so nothing in flight to it can be lost on a regular exit.
namespace actorflow::detail {

using open_tx_atom = caf::atom_constant<caf::atom("af_otx")>;
using open_rx_atom = caf::atom_constant<caf::atom("af_orx")>;
using bind_tx_atom = caf::atom_constant<caf::atom("af_btx")>;
using bind_rx_atom = caf::atom_constant<caf::atom("af_brx")>;
using push_atom = caf::atom_constant<caf::atom("af_push")>;
using pull_atom = caf::atom_constant<caf::atom("af_pull")>;
using close_tx_atom = caf::atom_constant<caf::atom("af_ctx")>;
using close_rx_atom = caf::atom_constant<caf::atom("af_crx")>;
using credit_atom = caf::atom_constant<caf::atom("af_credit")>;
using items_atom = caf::atom_constant<caf::atom("af_items")>;
using eos_atom = caf::atom_constant<caf::atom("af_eos")>;
using rx_gone_atom = caf::atom_constant<caf::atom("af_rxgone")>;
using ring_atom = caf::atom_constant<caf::atom("af_ring")>;
using stats_atom = caf::atom_constant<caf::atom("af_stats")>;
using join_atom = caf::atom_constant<caf::atom("af_join")>;
using close_ack_atom = caf::atom_constant<caf::atom("af_cack")>;
using recall_atom = caf::atom_constant<caf::atom("af_recall")>;
using abandon_atom = caf::atom_constant<caf::atom("af_abandon")>;
using forget_atom = caf::atom_constant<caf::atom("af_forget")>;
/// (tick, id, u64 generation): a timer's time came (see timer.hpp).
using tick_atom = caf::atom_constant<caf::atom("af_tick")>;
using drain_atom = caf::atom_constant<caf::atom("af_drain")>;

} // namespace actorflow::detail
