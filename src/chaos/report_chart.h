// The resilience report's timeline chart, an inline SVG (report_chart.cc).
#pragma once

#include <string>

#include "chaos/report_model.h"

namespace sluice::resilience {

// The experiment's timeline as one <svg> element, every journal string escaped; "" when the
// journal names no time at all (the report then says "no data").
std::string TimelineSvg(const Experiment& e);

}  // namespace sluice::resilience
