// A downstream program that links the installed actorflow::metrics (see
// run.cmake): it serves a pipeline's figures and checks what a scrape says.

#include <iostream>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actorflow/all.hpp"
#include "actorflow/metrics_exporter.hpp"

int main() {
  caf::actor_system_config cfg;
  actorflow::init(cfg);
  caf::actor_system sys{cfg};
  auto exporter = actorflow::metrics_exporter::serve("127.0.0.1:0");
  if (!exporter) {
    std::cerr << "FAILED: serve: " << actorflow::to_string_any(exporter.error())
              << '\n';
    return 1;
  }
  auto run = actorflow::iota(0, 100).for_each([](int) {}).start(sys);
  if (auto err = exporter->add("consumer", run)) {
    std::cerr << "FAILED: add: " << actorflow::to_string_any(err) << '\n';
    return 1;
  }
  if (!run.wait()) {
    std::cerr << "FAILED: the pipeline failed\n";
    return 1;
  }
  auto text = exporter->scrape();
  auto line = std::string{"actorflow_stage_items_total{pipeline=\"consumer\","
                          "stage=\"sink#2\",direction=\"in\"} 100\n"};
  if (text.find(line) == std::string::npos) {
    std::cerr << "FAILED: no line " << line << "in:\n" << text;
    return 1;
  }
  std::cout << "metrics consumer: OK (" << exporter->url() << ")\n";
  return 0;
}
