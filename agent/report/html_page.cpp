// Self-contained HTML pages.
#include "report/html_page.hpp"

namespace qsc::report {
namespace {

// System font stacks only: a web font would be a fetch an air-gapped host cannot make.
constexpr std::string_view kStylesheet = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       margin: 24px; color: #1f2328; background: #ffffff; max-width: 1100px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.facts { padding-left: 18px; font-size: 14px; }
.verdict { font-weight: bold; padding: 1px 6px; border-radius: 4px; white-space: nowrap; }
.verdict.pass { color: #0f5323; background: #d3f5dc; }
.verdict.wait { color: #6b4a00; background: #fff1c2; }
.verdict.fail { color: #82071e; background: #ffd8d3; }
figure { margin: 12px 0 20px; }
figcaption { font-size: 13px; color: #57606a; }
svg { background: #ffffff; border: 1px solid #d0d7de; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 11px; fill: #1f2328; }
svg .axis line, svg .axis path { stroke: #57606a; }
svg .axis line.grid { stroke: #eaeef2; }
svg .chart-title { font-size: 13px; font-weight: bold; }
svg .highlight { stroke: #1f2328; stroke-width: 2; }
svg .box rect { fill: #b6d4fe; stroke: #0a3069; }
svg .box.highlight rect { fill: #ffd8b5; stroke: #953800; }
svg .box line { stroke: #0a3069; stroke-width: 1.5; }
svg .box.highlight line { stroke: #953800; }
svg .series { fill: none; stroke: #0969da; stroke-width: 1.5; }
svg .point { fill: #0969da; }
svg .point.violation { fill: #cf222e; }
svg .threshold { stroke: #cf222e; stroke-dasharray: 6 3; stroke-width: 1.5; }
svg .rollback { stroke: #8250df; stroke-width: 2; }
)css";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string verdict_html(std::string_view word, Tone tone) {
  const char* cls = tone == Tone::kPass ? "pass" : tone == Tone::kWait ? "wait" : "fail";
  const char* symbol = tone == Tone::kPass ? "✔ " : tone == Tone::kWait ? "⚠ " : "✖ ";
  return std::string("<span class=\"verdict ") + cls + "\">" + symbol + html_escape(word) +
         "</span>";
}

Cell text_cell(std::string_view text) {
  return {html_escape(text), false};
}
Cell number_cell(std::string_view text) {
  return {html_escape(text), true};
}

std::string table_html(const std::vector<std::string>& headers,
                       const std::vector<std::vector<Cell>>& rows) {
  std::string html = "<table>\n<thead><tr>";
  for (const auto& h : headers) html += "<th>" + html_escape(h) + "</th>";
  html += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    html += "<tr>";
    for (const auto& c : row)
      html += (c.numeric ? "<td class=\"num\">" : "<td>") + c.html + "</td>";
    html += "</tr>\n";
  }
  html += "</tbody>\n</table>\n";
  return html;
}

std::string html_document(std::string_view title, std::string_view body_html) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // The policy forbids every fetch: a report that tried to load anything would show it as a
  // console error, and the browser test fails on those.
  html +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>" + html_escape(title) + "</title>\n<style>" + std::string(kStylesheet) +
          "</style>\n</head>\n<body>\n<h1>" + html_escape(title) + "</h1>\n";
  html += body_html;
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace qsc::report
