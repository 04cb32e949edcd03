#include "clean_text.hpp"

namespace ltest {

namespace {

constexpr unsigned char esc = 0x1b, bel = 0x07;

// Where a string sequence (OSC, DCS, PM, APC, SOS) that starts at `i` ends:
// after BEL or ST (ESC \ or the C1 ST, U+009C). Unterminated: the whole rest.
std::size_t skip_string(const std::string& s, std::size_t i) {
    for (; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == bel) return i + 1;
        if (c == esc && i + 1 < s.size() && s[i + 1] == '\\') return i + 2;
        if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x9c) return i + 2;
    }
    return i;
}

// Where a CSI sequence's parameters start at `i` end: after its final byte (0x40-0x7e).
std::size_t skip_csi(const std::string& s, std::size_t i) {
    for (; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x40 && c <= 0x7e) return i + 1;
        if (c < 0x20 || c > 0x3f) return i;  // not a parameter or intermediate byte: a broken sequence
    }
    return i;
}

// A sequence introduced by `intro` (the byte after ESC, or the C1 code minus 0x40), from `i`.
std::size_t skip_introduced(const std::string& s, unsigned char intro, std::size_t i) {
    if (intro == '[') return skip_csi(s, i);
    if (intro == ']' || intro == 'P' || intro == '^' || intro == '_' || intro == 'X') return skip_string(s, i);
    // A two-byte sequence, possibly with intermediate bytes (ESC ( B).
    while (i < s.size() && static_cast<unsigned char>(s[i]) >= 0x20 && static_cast<unsigned char>(s[i]) <= 0x2f) ++i;
    return i < s.size() ? i + 1 : i;
}

// The length of the valid UTF-8 sequence at i (lead byte >= 0x80), 0 if none.
std::size_t utf8_length(const std::string& s, std::size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    return n;
}

}  // namespace

std::string clean_text(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == esc) {
            i = i + 1 < text.size() ? skip_introduced(text, static_cast<unsigned char>(text[i + 1]), i + 2) : i + 1;
        } else if (c == 0xc2 && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xe0) == 0x80) {
            // A C1 control in UTF-8 (U+0080-U+009F): some terminals obey U+009B as CSI.
            auto intro = static_cast<unsigned char>(static_cast<unsigned char>(text[i + 1]) - 0x40);
            bool sequence = intro == '[' || intro == ']' || intro == 'P' || intro == '^' || intro == '_' || intro == 'X';
            i = sequence ? skip_introduced(text, intro, i + 2) : i + 2;
        } else if (c == '\n' || c == '\t' || c == '\r') {
            out += ' ';
            ++i;
        } else if (c < 0x20 || c == 0x7f) {
            ++i;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
        } else {
            // Only whole UTF-8 sequences: a stray lead or continuation byte is
            // dropped, so that what is removed around it cannot join with it
            // into a C1 control (0xC2 0x9B) in the output.
            std::size_t n = utf8_length(text, i);
            if (n == 0) {
                ++i;
            } else {
                out.append(text, i, n);
                i += n;
            }
        }
    }
    return out;
}

}  // namespace ltest
