#pragma once
// HMAC signatures of Jupyter messages: over header, parent, metadata, content.
// Two implementations of one interface: libsodium (which libzmq loads anyway:
// the ltest client, whose start-up is most of a status round trip, loads no
// crypto library of its own) and xeus's authentication (make_xeus_signer, in
// kernel_bridge proper: zmq/xeus_signer.hpp). Tests check both against Python's hmac and
// jupyter_client.
#include <memory>
#include <string>

namespace kernel_bridge {

class signer {
public:
    virtual ~signer() = default;
    signer(const signer&) = delete;
    signer& operator=(const signer&) = delete;

    // Lowercase hex digest; "" for an unsigned session (empty key).
    std::string sign(const std::string& header, const std::string& parent, const std::string& metadata,
                     const std::string& content) const;
    // Length first, then a constant-time comparison.
    bool verify(const std::string& signature, const std::string& header, const std::string& parent,
                const std::string& metadata, const std::string& content) const;
    bool is_signed() const { return signed_; }

protected:
    explicit signer(bool is_signed) : signed_(is_signed) {}

private:
    virtual std::string sign_impl(const std::string& header, const std::string& parent, const std::string& metadata,
                                  const std::string& content) const = 0;
    bool signed_;
};

// scheme: "hmac-sha256" (Jupyter's default; "" means that too). Throws
// bad_file for another scheme. An empty key makes an unsigned signer.
std::unique_ptr<signer> make_sodium_signer(const std::string& scheme, const std::string& key);

}  // namespace kernel_bridge
