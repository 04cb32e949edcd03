#include "kernel_bridge/signer.hpp"

#include <sodium.h>

#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/random.hpp"
#include "scheme.hpp"

namespace kernel_bridge {

std::string signer::sign(const std::string& header, const std::string& parent, const std::string& metadata,
                         const std::string& content) const {
    return signed_ ? sign_impl(header, parent, metadata, content) : std::string();
}

bool signer::verify(const std::string& signature, const std::string& header, const std::string& parent,
                    const std::string& metadata, const std::string& content) const {
    if (!signed_) return signature.empty();
    std::string expected = sign_impl(header, parent, metadata, content);
    return signature.size() == expected.size() && sodium_memcmp(signature.data(), expected.data(), expected.size()) == 0;
}

void check_scheme(const std::string& scheme) {
    if (!scheme.empty() && scheme != "hmac-sha256")
        throw bad_file("unsupported signature_scheme '" + scheme + "' (ltest speaks hmac-sha256)");
}

namespace {

// libsodium's HMAC-SHA256: libzmq already links libsodium, so the client
// loads no crypto library of its own (OpenSSL's costs ~1.5 ms at each start).
class sodium_signer final : public signer {
public:
    // The key is absorbed once into a template state; each signature copies it.
    explicit sodium_signer(const std::string& key) : signer(!key.empty()) {
        if (sodium_init() < 0) throw bridge_error("libsodium cannot initialise");
        crypto_auth_hmacsha256_init(&keyed_, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    }

private:
    std::string sign_impl(const std::string& h, const std::string& p, const std::string& m,
                          const std::string& c) const override {
        crypto_auth_hmacsha256_state state = keyed_;
        for (const std::string* part : {&h, &p, &m, &c})
            crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(part->data()), part->size());
        unsigned char digest[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_final(&state, digest);
        return to_hex(digest, sizeof digest);
    }

    crypto_auth_hmacsha256_state keyed_{};
};

}  // namespace

std::unique_ptr<signer> make_sodium_signer(const std::string& scheme, const std::string& key) {
    check_scheme(scheme);
    return std::make_unique<sodium_signer>(key);
}

}  // namespace kernel_bridge
