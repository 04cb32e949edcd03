// The signer built on xeus's authentication (kernel_bridge proper).
#include <xeus/xauthentication.hpp>

#include "kernel_bridge/zmq/xeus_signer.hpp"
#include "scheme.hpp"

namespace kernel_bridge {


namespace {

xeus::xraw_buffer raw(const std::string& s) {
    return xeus::xraw_buffer(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

class xeus_signer final : public signer {
public:
    explicit xeus_signer(const std::string& key)
        : signer(!key.empty()), auth_(xeus::make_xauthentication("hmac-sha256", key)) {}

private:
    // Only sign: xeus's verify compares as many bytes as it computed without
    // checking the received length first; signer::verify does it right.
    std::string sign_impl(const std::string& h, const std::string& p, const std::string& m,
                          const std::string& c) const override {
        return auth_->sign(raw(h), raw(p), raw(m), raw(c));
    }

    std::unique_ptr<xeus::xauthentication> auth_;
};

}  // namespace

std::unique_ptr<signer> make_xeus_signer(const std::string& scheme, const std::string& key) {
    check_scheme(scheme);
    return std::make_unique<xeus_signer>(key);
}

}  // namespace kernel_bridge
