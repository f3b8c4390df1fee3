// expect: send_many: pass the items as a named container or a span
// send_many leaves the items it does not send in its argument: a temporary
// would lose them.
#include <vector>

#include <caf/all.hpp>

#include "actorflow/all.hpp"

actorflow::task<> body(actorflow::sender<int> tx) {
  co_await tx.send_many(std::vector<int>{1, 2, 3});
}
