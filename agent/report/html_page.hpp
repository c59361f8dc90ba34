// The pieces of a self-contained HTML report: escaping, the page with its inline stylesheet,
// tables, and verdicts shown in colour and in words (colour is never the only carrier).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qsc::report {

/// Escapes & < > " ' for use in element text and in quoted attribute values. Everything that
/// comes from data (model names, messages, sources) goes through this.
std::string html_escape(std::string_view text);

/// How a verdict reads: pass (green), wait (amber), fail (red).
enum class Tone { kPass, kWait, kFail };

/// <span class="verdict pass">✔ PASS</span>: a symbol, the word and the colour.
std::string verdict_html(std::string_view word, Tone tone);

/// A table cell: its (already HTML) content and whether it is numeric (right-aligned).
struct Cell {
  std::string html;
  bool numeric = false;
};

/// A table with a header row; `headers` and cells are plain text / HTML as named.
std::string table_html(const std::vector<std::string>& headers,
                       const std::vector<std::vector<Cell>>& rows);

/// Plain text cell (escaped).
Cell text_cell(std::string_view text);
/// Numeric plain text cell (escaped, right-aligned).
Cell number_cell(std::string_view text);

/// A whole document: <!DOCTYPE html>, charset, the inline stylesheet, <h1>title</h1> and the
/// body HTML. No external resource of any kind.
std::string html_document(std::string_view title, std::string_view body_html);

}  // namespace qsc::report
