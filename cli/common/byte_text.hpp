#pragma once
// Bytes as JSON text, losslessly. A run request carries the client's argv,
// working directory and environment: C strings of any bytes, which on Linux
// need not be UTF-8 (a directory named in Latin-1, an environment value
// holding binary). JSON strings are Unicode, and nlohmann::json refuses (or
// replaces with U+FFFD) bytes that are not UTF-8, so such bytes travel
// escaped:
//
//   every byte that is not part of a well-formed UTF-8 sequence (RFC 3629:
//   no overlong forms, no surrogates, nothing above U+10FFFF), and NUL
//   itself, becomes U+0000 followed by its value as two lowercase hex digits.
//
// No argument, path or environment entry can hold a NUL (they are C
// strings), so U+0000 is free to mark the escape and text that is valid
// UTF-8 travels unchanged. The kernel (in_kernel/run_request.py) rebuilds the
// bytes and decodes them as Python decodes its own argv, cwd and environment
// (os.fsdecode: surrogateescape), so a test sees what cold pytest sees.
#include <string>

namespace ltest {

// `bytes` as valid UTF-8 text with the escapes above.
std::string bytes_to_text(const std::string& bytes);
// The bytes `text` escapes; throws std::invalid_argument for a U+0000 not
// followed by two hex digits.
std::string text_to_bytes(const std::string& text);

}  // namespace ltest
