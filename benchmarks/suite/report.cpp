// This file is part of actorflow. See README.md for the project's license.
//
// suite/report.cpp: the Markdown tables, SVG charts and report of
// bench_suite.

#include "suite/report.hpp"

#include <filesystem>

#include "common.hpp"

namespace bench {

namespace {

std::string xml_escape(const std::string& s) {
  std::string r;
  for (auto c : s) {
    switch (c) {
      case '&':
        r += "&amp;";
        break;
      case '<':
        r += "&lt;";
        break;
      case '>':
        r += "&gt;";
        break;
      case '"':
        r += "&quot;";
        break;
      default:
        r += c;
    }
  }
  return r;
}

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "?";
}

std::string utc_now() {
  auto t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

} // namespace

// -- tables -------------------------------------------------------------------

std::string rate_tables(const std::vector<series>& ss,
                        const std::string& unit) {
  std::ostringstream os;
  os << "| variant | median " << unit
     << " | min | max | CPU ns/item (median) |\n|---|---:|---:|---:|---:|\n";
  for (auto& s : ss) {
    auto st = summarize(s.values);
    auto name = "(" + s.id + ") " + s.label;
    os << "| " << (s.ours ? "**" + name + "**" : name) << " | "
       << fmt_rate(st.median) << " | " << fmt_rate(st.min) << " | "
       << fmt_rate(st.max) << " | "
       << (s.cpu_ns.empty() ? std::string{"-"}
                            : fmt(summarize(s.cpu_ns).median, 1))
       << " |\n";
  }
  std::vector<const series*> mine;
  for (auto& s : ss)
    if (s.ours)
      mine.push_back(&s);
  if (!mine.empty() && ss.size() > 1) {
    os << "\nRatio of medians, actorflow row / column (> 1: actorflow is "
          "faster):\n\n| |";
    for (auto& s : ss)
      os << " vs " << s.id << " |";
    os << "\n|---|";
    for (size_t k = 0; k < ss.size(); ++k)
      os << "---:|";
    os << '\n';
    for (auto* m : mine) {
      os << "| " << m->id << " |";
      auto mm = summarize(m->values).median;
      for (auto& s : ss)
        os << ' '
           << (&s == m ? std::string{"-"}
                       : fmt_ratio(mm / summarize(s.values).median))
           << " |";
      os << '\n';
    }
  }
  return os.str();
}

const series& find_series(const std::vector<series>& ss,
                          const std::string& id) {
  for (auto& s : ss)
    if (s.id == id)
      return s;
  die("internal: no series " + id);
}

double median_of(const std::vector<series>& ss, const std::string& id) {
  return summarize(find_series(ss, id).values).median;
}

// -- SVG ----------------------------------------------------------------------

std::string bar_chart(const std::string& title, const std::string& unit,
                      const std::vector<bar>& bars, bool log_scale,
                      const std::function<std::string(double)>& show) {
  const double left = 330, width = 420, row = 26, top = 40;
  double hi = 0, lo = std::numeric_limits<double>::max();
  for (auto& b : bars) {
    hi = std::max(hi, b.max);
    lo = std::min(lo, b.min > 0 ? b.min : b.median);
  }
  if (hi <= 0)
    hi = 1;
  double floor = log_scale ? std::pow(10, std::floor(std::log10(lo)) - 0.3)
                           : 0.0;
  auto x = [&](double v) {
    if (log_scale) {
      v = std::max(v, floor);
      return left
             + width * (std::log10(v) - std::log10(floor))
                 / (std::log10(hi) - std::log10(floor));
    }
    return left + width * v / hi;
  };
  auto height = top + row * static_cast<double>(bars.size()) + 30;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"880\" height=\""
     << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
     << "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">"
     << xml_escape(title) << "</text>\n";
  double y = top;
  for (auto& b : bars) {
    auto x1 = x(b.median);
    os << "<text x=\"" << left - 8 << "\" y=\"" << y + 15
       << "\" text-anchor=\"end\">" << xml_escape(b.label) << "</text>\n"
       << "<rect x=\"" << left << "\" y=\"" << y + 3 << "\" width=\""
       << std::max(1.0, x1 - left) << "\" height=\"18\" fill=\""
       << (b.ours ? "#2b6cb0" : "#a0aec0") << "\"/>\n"
       << "<line x1=\"" << x(b.min) << "\" x2=\"" << x(b.max) << "\" y1=\""
       << y + 12 << "\" y2=\"" << y + 12
       << "\" stroke=\"black\" stroke-width=\"1.5\"/>\n"
       << "<text x=\"" << std::max(x1, x(b.max)) + 6 << "\" y=\"" << y + 16
       << "\">" << xml_escape(show(b.median)) << "</text>\n";
    y += row;
  }
  os << "<line x1=\"" << left << "\" x2=\"" << left << "\" y1=\"" << top
     << "\" y2=\"" << y << "\" stroke=\"black\"/>\n"
     << "<text x=\"" << left << "\" y=\"" << y + 20 << "\" fill=\"#555\">"
     << xml_escape(unit + (log_scale ? " (log scale)" : "")
                   + "; bar = median, line = min-max; blue = actorflow")
     << "</text>\n</svg>\n";
  return os.str();
}

std::vector<bar> bars_of(const std::vector<series>& ss) {
  std::vector<bar> bs;
  for (auto& s : ss) {
    auto st = summarize(s.values);
    bs.push_back({s.id + ": " + s.label, st.median, st.min, st.max, s.ours});
  }
  return bs;
}

// -- the report ---------------------------------------------------------------

bool all_met(const std::vector<section>& secs) {
  for (auto& s : secs)
    for (auto& t : s.targets)
      if (!t.met)
        return false;
  return true;
}

std::string markdown(const run_info& info, const std::vector<section>& secs) {
  std::ostringstream md;
  md << "# actorflow benchmark suite\n\n"
     << "Regenerate with:\n\n    " << info.command << "\n\n"
     << "Run of " << utc_now() << " in " << fmt(info.seconds, 0) << " s"
     << (info.quick ? " (--quick: reduced sizes and runs)" : "")
     << (info.scale != 1.0 ? ", sizes scaled by " + fmt(info.scale, 3) : "")
     << ". Machine: " << std::thread::hardware_concurrency() << " x "
     << cpu_model() << "; CAF scheduler " << info.scheduler
     << ". Load average (1/5/15 min) at the start: " << info.load_start
     << ", at the end: " << loadavg()
     << ". This is a shared, noisy 2-core VM: other processes (e.g. another "
        "build) may compete for the cores during the run, which lowers every "
        "figure that needs both cores (W2-W4 efficiencies in particular); "
        "ratios between variants of one workload are measured interleaved, "
        "round by round. Load average when each workload started:";
  for (auto& [what, load] : info.loads)
    md << ' ' << what << ' ' << load << ';';
  md << " end " << loadavg() << ".";
  if (!info.note.empty())
    md << ' ' << info.note;
  md << "\n\n";
  md << "## Targets\n\n| target | measured | met |\n"
        "|---|---:|---|\n";
  for (auto& s : secs)
    for (auto& t : s.targets)
      md << "| " << t.what << " | " << t.measured << " | "
         << (t.met ? "yes" : "**no**") << " |\n";
  md << '\n';
  for (auto& s : secs)
    md << "## " << s.title << "\n\n" << s.text << '\n';
  return md.str();
}

void write_report(const std::string& dir, const std::string& md,
                  const std::map<std::string, std::string>& svgs) {
  std::filesystem::create_directories(dir);
  std::ofstream{dir + "/README.md"} << md;
  for (auto& [name, svg] : svgs)
    std::ofstream{dir + "/" + name} << svg;
}

} // namespace bench
