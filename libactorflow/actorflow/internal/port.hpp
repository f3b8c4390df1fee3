// This file is part of actorflow. See README.md for the project's license.

#pragma once

#include <memory>

#include "actorflow/detail/host.hpp"

namespace actorflow::detail {

/// The actor that a blocking (thread-side) endpoint uses as its mailbox.
class port : public host {
public:
  port(caf::actor_config& cfg, std::shared_ptr<endpoint> ep);

  ~port() override;

  const char* name() const override;

protected:
  void start() override;

  void after_activation() override;

  void on_exit() override;

private:
  std::shared_ptr<endpoint> ep_;
};

} // namespace actorflow::detail
