#include "byte_text.hpp"

#include <stdexcept>

namespace ltest {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], 0 if there is none
// (RFC 3629's table: the second byte's range depends on the first).
std::size_t utf8_length(const std::string& s, std::size_t i) {
    auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
        return k < s.size() && at(k) >= lo && at(k) <= hi;
    };
    unsigned char c = at(i);
    if (c >= 0x01 && c <= 0x7F) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c == 0xE0) return cont(i + 1, 0xA0, 0xBF) && cont(i + 2) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(i + 1) && cont(i + 2) ? 3 : 0;
    if (c == 0xED) return cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;  // no surrogates
    if (c == 0xF0) return cont(i + 1, 0x90, 0xBF) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    if (c == 0xF4) return cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    return 0;  // NUL, a stray continuation byte, C0, C1, F5-FF
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string bytes_to_text(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size());
    for (std::size_t i = 0; i < bytes.size();) {
        if (std::size_t n = utf8_length(bytes, i)) {
            out.append(bytes, i, n);
            i += n;
        } else {
            auto b = static_cast<unsigned char>(bytes[i++]);
            out += '\0';
            out += digits[b >> 4];
            out += digits[b & 0xF];
        }
    }
    return out;
}

std::string text_to_bytes(const std::string& text) {
    std::size_t nul = text.find('\0');
    if (nul == std::string::npos) return text;  // the usual case: nothing escaped
    std::string out(text, 0, nul);
    for (std::size_t i = nul; i < text.size(); ++i) {
        if (text[i] != '\0') {
            out += text[i];
            continue;
        }
        int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) throw std::invalid_argument("a NUL not followed by two hex digits (an escaped byte)");
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

}  // namespace ltest
