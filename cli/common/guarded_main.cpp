#include "guarded_main.hpp"

#include <iostream>

#include <kernel_bridge/errors.hpp>

#include "clean_text.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {

// Messages may quote a server's or a file's text: cleaned (clean_text.hpp).
int guarded_main(const std::function<int()>& body) {
    try {
        return body();
    } catch (const ltest_error& e) {
        std::cerr << "ltest: " << clean_text(e.what()) << "\n";
        return e.exit_code;
    } catch (const kernel_bridge::bridge_error& e) {
        std::cerr << "ltest: " << clean_text(e.what()) << "\n";
        return exit_code::startup;
    } catch (const std::exception& e) {
        std::cerr << "ltest: internal error: " << clean_text(e.what()) << "\n";
        return exit_code::internal;
    }
}

}  // namespace ltest
