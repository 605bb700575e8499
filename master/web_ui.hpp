// The master's web UI: one self-contained page (no CDN, no external asset).
#pragma once

#include <string>

namespace caldera {

const std::string& web_ui_html();

} // namespace caldera
