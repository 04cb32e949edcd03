#pragma once
// The signer of kernel_bridge proper (the target with libzmq and xeus):
// xeus's authentication behind kernel_bridge::signer (signer.hpp).
#include <memory>
#include <string>

#include <kernel_bridge/signer.hpp>

namespace kernel_bridge {

// As make_sodium_signer: "hmac-sha256" (or ""), an empty key is unsigned.
std::unique_ptr<signer> make_xeus_signer(const std::string& scheme, const std::string& key);

}  // namespace kernel_bridge
